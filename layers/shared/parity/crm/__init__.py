"""The CRM: deals and tickets, contacts, credentials, idempotency and the parity flag.
"""
