"""Roles on API keys: who may do what (contracts/approvals.md "Roles").

Three roles, each holding the rights of the ones below it::

    producer  <  approver  <  admin

- ``producer``: records, contacts, conversations, previews (every right that existed before
  roles), and reading the approval policy (a producer needs to know what will be held);
- ``approver``: a producer's rights plus the approval inbox, the activity log and anomalies;
- ``admin``: everything, plus channels, the approval policy and the notification settings.

The least role of every action is in ``NEEDED``, the one place a handler looks it up:
``require(caller.role, NEEDED["approvals.decide"])``. Too low a role is a 403 ``forbidden``;
an object of another company is still a 404 (a handler checks the company before the role only
where the object is the company's own; never answers 403 with another company's data).

**A key without a role** (every key issued before roles existed) is a ``producer``: that is
exactly the rights it had, so nothing that worked stops working and no old key silently gains
the right to approve its own held actions or change the policy. The same holds for a token or
an authorizer context that names no role, and for a role this code does not know (a typo in a
hand-edited item, a role added by a newer deployment during a rollback): the least privilege,
never an error and never more. ``parity local --company`` seeds ``admin`` keys so today's local
flows keep every right; an operator gives an existing company an admin with
``parity ops key issue COMPANY --role admin``. Where a role is *chosen* (issuing a key), it is
checked strictly with ``check_role``: a typo there is refused, not quietly downgraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from parity.core.errors import Forbidden


class Role(IntEnum):
    """An ordered role: a higher value holds every right of a lower one."""

    producer = 1
    approver = 2
    admin = 3

    def __str__(self) -> str:  # the name is what tokens, items and answers carry
        return self.name


#: The role of a key, token or context that names none (keys issued before roles existed).
DEFAULT_ROLE = Role.producer
ROLE_NAMES: tuple[str, ...] = tuple(role.name for role in Role)

#: The least role of each action (contracts/approvals.md, DESIGN "Auth"). Reading the policy is
#: any role's: a producer may ask what would be held. Notification settings are admin both ways
#: (they name people: Slack user ids and sso ids). Feedback settings (the WhatsApp template) are
#: admin to change, any role's to read.
NEEDED: Mapping[str, Role] = {
    "records": Role.producer,
    "contacts": Role.producer,
    "conversations": Role.producer,
    "previews": Role.producer,
    "policy.read": Role.producer,
    "approvals.read": Role.approver,
    "approvals.decide": Role.approver,
    "activity.read": Role.approver,
    "anomalies.read": Role.approver,
    "anomalies.acknowledge": Role.approver,
    "policy.write": Role.admin,
    "notification_settings": Role.admin,
    "channels": Role.admin,
    "feedback_settings": Role.admin,
}


def check_role(value: object) -> Role:
    """The role named exactly by ``value``; ``ValueError`` naming the choices otherwise. For
    where a role is chosen (``parity ops key issue --role``), so a typo is refused."""
    if isinstance(value, str) and value in ROLE_NAMES:
        return Role[value]
    raise ValueError(f"invalid role {value!r}: one of {', '.join(ROLE_NAMES)}")


def parse_role(value: object) -> Role:
    """The role a stored key, a token or an authorizer context carries: its own when it names
    one exactly, else ``DEFAULT_ROLE`` (absent, empty, unknown or not a string: never more than
    a producer, never an error; see the module docstring)."""
    if isinstance(value, str) and value in ROLE_NAMES:
        return Role[value]
    return DEFAULT_ROLE


def require(role_of_caller: Role, needed: Role) -> None:
    """Nothing when the caller's role is ``needed`` or higher; else ``Forbidden`` (403)."""
    if role_of_caller < needed:
        raise Forbidden(f"this needs the {needed} role; the caller is a {role_of_caller}")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the company, the role and the ``sso_id`` the token was issued for (who
    acted: ``resolved_by``, ``acknowledged_by``, ``approved_by``)."""

    company_id: str
    role: Role
    sso_id: str | None

    def require(self, action: str) -> None:
        """``require`` for a named action of ``NEEDED`` (``KeyError`` for an unknown name: a bug)."""
        require(self.role, NEEDED[action])


def caller_from_context(context: Mapping[str, Any]) -> Caller | None:
    """The caller the authorizer resolved (``company_id``, ``role``, ``sso_id`` in its context),
    or None when it resolved no company (the edge answers 401 before any route code runs)."""
    company = context.get("company_id")
    if not company or not isinstance(company, str):
        return None
    sso_id = context.get("sso_id")
    return Caller(company, parse_role(context.get("role")), sso_id if isinstance(sso_id, str) and sso_id else None)


def caller_of(request: Any) -> Caller:
    """The caller of an HTTP request (``parity.core.http.Request``): its company (401 when the
    authorizer resolved none), its role and sso_id."""
    company = request.company
    context = request.authorizer
    found = caller_from_context({**context, "company_id": company})
    assert found is not None
    return found
