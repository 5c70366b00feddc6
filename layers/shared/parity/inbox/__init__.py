"""The chat inbox side: the signed-event receiver and the room's sidebar preview.
"""
