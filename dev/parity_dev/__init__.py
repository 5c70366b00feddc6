"""Dev-only tooling for parity: the local stack (``parity local``) and its test fixtures. Never deployed.

Modules: ``local_stack`` (assembles the local stack: everything below, started and wired),
``stack`` (deploy template.yaml into moto), ``lambdas`` (run each function in worker processes of its
own, ``lambda_worker`` being one), ``gateway`` (HTTP API emulation), ``pollers`` (SQS / DynamoDB
stream event sources), ``aws`` (fake credentials, clients, the moto server and the AWS edge in front
of it), ``cli`` (the ``parity`` command), ``ops`` (``parity ops``: flags, dead letters, reconcile, API
keys, secret rotation, on a deployed or the local stack).
"""
