"""The approval policy of a company, and which bot/AI actions it holds for a person.

A policy (``GET|PUT /api/v3.1/approval-policy``)::

    {"bot": {"min_confidence": 0..1 | null},
     "agentic_ai": {"min_confidence": 0..1 | null},
     "expires_in": 300..604800}

Default, and the policy of every company that never set one: no threshold for either flag (the
RFC's behaviour: nothing is held) and ``expires_in`` 86400 s. A PUT **replaces** the whole policy:
a field left out takes its default, never the previously stored value (``{}`` restores the
default), so what the answer shows is everything that is in force. Each bad field is named in one
422; unknown fields are refused (a misspelt ``min_confidence`` must not silently mean "no
threshold").

**Held** (``held``): a create, or a PATCH of a record, whose ``creator_flag`` (for a PATCH: the
record's own flag, as it is set once at create) has a threshold, and whose ``confidence`` is
absent or below it. At the threshold exactly is not held. A create or PATCH without a flag (a
person's) is never held. Bad input is a 422 before this is asked: a body is validated first and
is never held when it is invalid.

Each create and PATCH body may carry ``confidence`` (a JSON number 0..1) and ``agent_id`` (1 to 128
characters, no control characters); ``trust_fields`` checks both without pydantic, so the create
path pays nothing for them at cold start, and returns the problems for the caller to name with
the rest of the body's.

The policy is read on every bot/AI create: ``PolicyCache`` keeps a warm container's answer for at
most ``MAX_CACHE_SECONDS`` (like the parity flag), so a PUT takes effect within a minute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from parity.approvals import checks
from parity.approvals.checks import Problem
from parity.core.errors import ValidationFailed
from parity.core.jsonio import plain
from parity.crm.records import CREATOR_LABELS

#: The creator flags a policy has a say on, in output order.
FLAGS: tuple[str, ...] = tuple(CREATOR_LABELS)
MIN_EXPIRES_IN = 300
MAX_EXPIRES_IN = 604_800
DEFAULT_EXPIRES_IN = 86_400
MAX_AGENT_ID_LENGTH = 128
#: The body fields this module reads on a create or PATCH.
TRUST_FIELDS = ("confidence", "agent_id")
CACHE_SECONDS = 30.0
MAX_CACHE_SECONDS = 60.0


def default_policy() -> dict[str, Any]:
    """The policy in force when a company never set one: nothing held, a day to decide."""
    return {**{flag: {"min_confidence": None} for flag in FLAGS}, "expires_in": DEFAULT_EXPIRES_IN}


def validate_policy(body: Any) -> dict[str, Any]:
    """A PUT body as the whole policy to store (absent fields take their defaults); else a 422
    naming every bad field (``bot.min_confidence``, ``expires_in``, ``agentic_ai``…)."""
    if (bad := checks.object_problem(body)) is not None:
        checks.fail([bad], "the policy must be a JSON object")
    problems: list[Problem] = checks.unknown_fields(body, (*FLAGS, "expires_in"))
    policy = default_policy()
    for flag in FLAGS:
        if flag not in body:
            continue
        section = body[flag]
        if (bad := checks.object_problem(section, flag)) is not None:
            problems.append(bad)
            continue
        problems += checks.unknown_fields(section, ("min_confidence",), prefix=flag)
        threshold, bad = checks.unit_number(section.get("min_confidence"), f"{flag}.min_confidence")
        if bad:
            problems.append(bad)
        policy[flag] = {"min_confidence": threshold}
    if "expires_in" in body:
        expires_in = body["expires_in"]
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            problems.append(checks.problem("expires_in", "must be an integer number of seconds", "int_type"))
        elif not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
            problems.append(checks.problem("expires_in", f"must be from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN} seconds", "value_error"))
        else:
            policy["expires_in"] = expires_in
    checks.fail(problems, "the approval policy has invalid fields")
    return policy


def from_stored(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """The policy a stored item holds (what a PUT validated), or the default without one. Keys
    the store adds (``pk``, ``sk``, ``updated_at``…) are ignored."""
    if not item:
        return default_policy()
    # DynamoDB gives every number back as a Decimal: an integral one is the int a PUT stored.
    fields = {name: plain(item[name]) for name in (*FLAGS, "expires_in") if name in item}
    try:
        return validate_policy(fields)
    except ValidationFailed as exc:  # only a hand-edited item gets here: a bug to see, not a 422
        raise ValueError(f"stored approval policy is invalid: {exc.details}") from exc


def public(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy as the API answers it (numbers exact, every field present)."""
    out: dict[str, Any] = {}
    for flag in FLAGS:
        threshold = (policy.get(flag) or {}).get("min_confidence")
        out[flag] = {"min_confidence": plain(threshold)}
    out["expires_in"] = int(policy.get("expires_in", DEFAULT_EXPIRES_IN))
    return out


def threshold(policy: Mapping[str, Any], creator_flag: str | None) -> Decimal | None:
    """The ``min_confidence`` in force for ``creator_flag``; None when there is none (a person's
    create, an unrecognised flag, or a flag without a threshold)."""
    if creator_flag not in FLAGS:
        return None
    value = (policy.get(creator_flag) or {}).get("min_confidence")
    return None if value is None else Decimal(value)


def held(policy: Mapping[str, Any], creator_flag: str | None, confidence: Decimal | int | float | None) -> bool:
    """Whether a create or PATCH is held for approval instead of written: its flag has a
    threshold, and its confidence is absent or below it (equal is not held)."""
    needed = threshold(policy, creator_flag)
    if needed is None:
        return False
    if confidence is None:
        return True
    value = Decimal(repr(confidence)) if isinstance(confidence, float) else Decimal(confidence)
    return value < needed


def trust_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """``confidence`` and ``agent_id`` of a create or PATCH body, checked: ``({"confidence":
    Decimal | None, "agent_id": str | None}, problems)``. ``null`` is the same as absent."""
    confidence, bad_confidence = checks.unit_number(body.get("confidence"), "confidence")
    agent_id, bad_agent = checks.identifier(body.get("agent_id"), "agent_id", max_length=MAX_AGENT_ID_LENGTH)
    problems = [p for p in (bad_confidence, bad_agent) if p is not None]
    return {"confidence": confidence, "agent_id": agent_id}, problems


def split_trust_fields(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[Problem]]:
    """The body without ``confidence``/``agent_id`` (what the CRM's record models validate), the
    two checked, and their problems: the CRM's models need not learn fields they do not store."""
    trust, problems = trust_fields(body)
    rest = {name: value for name, value in body.items() if name not in TRUST_FIELDS}
    return rest, trust, problems


class PolicyCache:
    """A warm container's memory of each company's policy, trusted for at most
    ``MAX_CACHE_SECONDS`` whatever ``ttl`` says (a PUT takes effect within a minute).

    ``lookup`` reads the stored item (None when the company has none); ``now`` is passed to
    ``get`` (monotonic seconds), so this holds no clock of its own.
    """

    def __init__(self, lookup: Callable[[str], Mapping[str, Any] | None], *, ttl: float = CACHE_SECONDS, max_entries: int = 4096) -> None:
        self._lookup = lookup
        self._ttl = min(ttl, MAX_CACHE_SECONDS)
        self._max = max_entries
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}

    def get(self, company_id: str, *, now: float) -> dict[str, Any]:
        cached = self._entries.get(company_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        policy = from_stored(self._lookup(company_id))
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[company_id] = (policy, now + self._ttl)
        return policy

    def forget(self, company_id: str | None = None) -> None:
        """Drop one company's answer (after its own PUT in this container), or all of them."""
        if company_id is None:
            self._entries.clear()
        else:
            self._entries.pop(company_id, None)

