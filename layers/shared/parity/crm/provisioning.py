"""Company provisioning: create a company and issue its API keys.

Used by operators (``parity ops``) and by the local stack's ``--company ID:API_KEY`` seeding.
Keys are stored only as SHA-256 hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parity.crm.store import CrmStore
from parity.core.ids import check_company_id
from parity.crm.credentials import hash_secret

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_dynamodb import DynamoDBClient


def provision_company(
    table_name: str,
    company_id: str,
    api_key: str,
    *,
    parity_enabled: bool = True,
    role: str = "admin",
    client: DynamoDBClient | None = None,
) -> None:
    """Create (or update) ``company_id`` with the parity flag set, and register ``api_key`` for it
    with ``role`` (``admin`` by default: the local stack's seeded companies keep every right). A
    company id outside ``parity.core.ids.COMPANY_ID`` or an unknown role is a ``ValueError``."""
    from parity.approvals.roles import check_role

    check_company_id(company_id)
    check_role(role)
    store = CrmStore(table_name, client=client)
    store.put_company(company_id, parity_enabled=parity_enabled)
    store.put_api_key(hash_secret(api_key), company_id, role=role)
