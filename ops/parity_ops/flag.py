"""``parity ops flag``: a company's parity flag, the rollout switch and the rollback (RFC §4).

What applies is the library's rule (``parity.crm.flags.effective``: the company's own flag, else
the stack default); a change reaches every warm router within its flag cache, never more than
``parity.core.settings.MAX_CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from parity.core.settings import MAX_CACHE_SECONDS
from parity.crm import flags
from parity_ops.target import OpsError, Target, iso, now


def flag_show(target: Target, company_id: str) -> dict[str, Any]:
    """The company's own flag, the stack default, and what the router therefore does."""
    company = _company(target, company_id)
    own = company.get("parity_enabled")
    default = target.parity_default()
    return {
        "company_id": company_id,
        "own": None if own is None else bool(own),
        "default": default,
        "effective": flags.effective(own, default=default),
        "changed_at": iso(company.get("parity_changed_at")),
        "changed_by": company.get("parity_changed_by"),
        "effective_within_s": MAX_CACHE_SECONDS,
    }


def flag_set(target: Target, company_id: str, enabled: bool | None) -> dict[str, Any]:
    """Turn the company's parity flag on or off (None: clear it, so the stack default applies).

    Off is the rollback: the router stops queueing events and timeline notes for the company
    within its flag cache (30 s by default, 60 s at most); records are still created. Previews
    already shown stay until their records change; on again resumes with the next change.
    """
    _company(target, company_id)
    target.crm().set_company_parity(company_id, enabled, changed_by=target.operator(), now=now())
    return flag_show(target, company_id)


def _company(target: Target, company_id: str) -> dict[str, Any]:
    company = target.crm().company(company_id)
    if company is None:
        raise OpsError(f"no company {company_id!r} (onboard one with `parity ops key issue {company_id}`)")
    return company
