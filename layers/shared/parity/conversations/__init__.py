"""Conversations: customers' messages from WhatsApp, Slack and Intercom in Parity's own rooms —
channels, signed inbound webhooks, one identity per customer, conversations with their state
machine, chat history, and outbound replies (contracts/conversations.md).
"""
