"""The outbox: the record event contract, the stream router, Standard Webhooks signing and the sender.
"""
