"""The timeline note: the masked chat excerpt, the note, the chat history client and the note writer.
"""
