"""The shared core under every capability: errors, settings, JSON, the HTTP and batch edges,
observability, cold start, AWS clients, the DynamoDB plumbing, outbound HTTP, queues and secrets.
It imports no capability.
"""
