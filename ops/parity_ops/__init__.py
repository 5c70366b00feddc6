"""``parity ops`` (or ``parity-ops``): see, stop and heal the pipeline without a redeploy (RFC §4
rollout and rollback). It operates production, so it ships to operators, never to Lambda, and
says nothing of its own about how the service behaves: every rule it applies is the library's
(``parity.outbox.router`` routes and fans out, ``parity.crm.flags`` says which flag applies,
``parity.outbox.secrets`` reads and writes the signing secrets).

Works on a deployed stack, found by name through its CloudFormation outputs (``--stack NAME``; the
caller's AWS credentials, which the stack's ``OperatorPolicyArn`` output grants exactly enough), and
on the local stack (``--local http://127.0.0.1:N``, found through its ``GET /_local/stack``):

    flag on|off|clear|show COMPANY      the rollout switch and the rollback (effective within 60 s)   flag.py
    dlq list|show|redrive QUEUE          dead letters of webhook, timeline or router                  dead_letters.py
    reconcile ROOM --company C           re-emit the room's bot/AI records so its preview heals         reconcile.py
    key issue|list|revoke COMPANY        company API keys (a new key is printed once)                   keys.py
    secret show|rotate|finish            the webhook signing secret, rotated with an overlap window     secret.py

Every command prints a readable table, or JSON with ``--json`` (``cli.py``). Each is also a
function, so tests and scripts can call it with a ``Target`` (``target.py``).
"""
