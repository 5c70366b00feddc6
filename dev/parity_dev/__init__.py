"""Dev-only tooling for parity: the local stack (``parity local``) and its test fixtures. Never deployed.

Modules: ``stack`` (deploy template.yaml into moto), ``lambdas`` (run functions in-process),
``gateway`` (HTTP API emulation), ``pollers`` (SQS / DynamoDB stream event sources), ``aws``
(fake credentials, clients, moto server), ``cli`` (the ``parity`` command), ``ops`` (``parity ops``:
flags, dead letters, reconcile, API keys, secret rotation, on a deployed or the local stack).
"""
