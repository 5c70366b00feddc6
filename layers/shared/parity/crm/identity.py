"""One contact per customer across channels (contracts/conversations.md "Identity").

A message's sender resolves to a contact of the channel's company — the same contacts producers
find with ``GET /api/v3.1/contacts?phone=|email=``:

1. by a channel identity already linked (a WhatsApp ``wa_id`` or business-scoped user id, a Slack
   user, an Intercom user);
2. else by email (lower-cased), else by phone (E.164, parsed with ``phonenumbers`` in the channel's
   ``default_region``);
3. else a new contact, named as the provider names the customer.

The identities are then linked to that contact. A contact is never linked to a second, different
identity of one channel type (``Identity.slot``): a candidate found by email or phone that already
holds another identity of the type is passed over, and a new contact is made instead (Chatwoot's
rule: never merge differing identifiers). A WhatsApp business-scoped user id is an alias scoped to
its channel: it is linked beside the wa_id and never takes the type's slot (Chatwoot and Meta:
BSUIDs are portfolio-scoped, never a company-wide key).

Racing first messages of one new customer make one contact: creating a contact links its
identities in the same conditional write, and the loser of the race takes the winner's contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import phonenumbers


@dataclass(frozen=True)
class Identity:
    """A customer's id on one channel type. ``scope`` is where the id is unique: "" for a WhatsApp
    wa_id (a phone number), the channel id for a business-scoped user id, the workspace or app for a
    Slack or Intercom user. ``alias`` identities never take the type's one slot on a contact."""

    channel_type: str
    scope: str
    value: str
    alias: bool = False

    @property
    def slot(self) -> str | None:
        """The per-contact slot this identity takes: one per channel type, none for an alias."""
        return None if self.alias else self.channel_type


@dataclass(frozen=True)
class Candidate:
    contact_id: str
    slots: dict[str, str]  # channel type → the identity value that holds its slot


class ContactDirectory(Protocol):
    """What resolving needs of the CRM's contacts (``parity.crm.store.CrmStore``)."""

    def contact_for_identity(self, company_id: str, identity: Identity) -> str | None: ...

    def candidates_by_email(self, company_id: str, email: str) -> list[Candidate]: ...

    def candidates_by_phone(self, company_id: str, digits: str) -> list[Candidate]: ...

    def link_identities(self, company_id: str, contact_id: str, identities: Sequence[Identity]) -> list[Identity]:
        """Link each identity not linked yet (conditionally: an identity another contact took, or a
        slot holding another value, is skipped); returns the ones newly linked."""
        ...

    def create_contact_with(self, company_id: str, *, name: str, phone: str | None, email: str | None, identities: Sequence[Identity]) -> str | None:
        """A new contact holding ``identities``, in one conditional write; None when one of them
        was taken meanwhile (a racing message of the same customer)."""
        ...


@dataclass(frozen=True)
class Resolved:
    contact_id: str
    created: bool
    linked: tuple[Identity, ...]


def e164(phone: str | None, region: str | None) -> str | None:
    """``phone`` in E.164 (``+6281234567890``), read in ``region`` when written nationally; None
    when it is not a possible number."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def resolve(
    directory: ContactDirectory,
    company_id: str,
    identities: Sequence[Identity],
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
    attempts: int = 3,
) -> Resolved:
    """The contact a sender is, with its identities linked (rules in the module docstring)."""
    email = email.strip().lower() if email and email.strip() else None
    phone = e164(phone, region)
    for _ in range(attempts):
        contact_id, found_by = _known(directory, company_id, identities)
        if contact_id is not None and all(i in found_by for i in identities):
            return Resolved(contact_id, False, ())  # every identity is linked to it already: nothing to link, nothing to read again
        if contact_id is None:
            contact_id = _matching(directory, company_id, identities, email=email, phone=phone)
        if contact_id is None:
            contact_id = directory.create_contact_with(company_id, name=name, phone=phone, email=email, identities=identities)
            if contact_id is None:
                continue  # one of its identities was just taken: resolve again, it is found now
            return Resolved(contact_id, True, tuple(identities))
        linked = directory.link_identities(company_id, contact_id, identities)
        return Resolved(contact_id, False, tuple(linked))
    raise RuntimeError("the sender's identities kept changing while resolving them")


def _known(directory: ContactDirectory, company_id: str, identities: Sequence[Identity]) -> tuple[str | None, set[Identity]]:
    """The contact the first linked identity names (the slot identity first), and which of the
    identities were seen linked to that contact on the way."""
    for identity in sorted(identities, key=lambda i: i.alias):
        found = directory.contact_for_identity(company_id, identity)
        if found is not None:
            return found, {identity}
    return None, set()


def _matching(directory: ContactDirectory, company_id: str, identities: Sequence[Identity], *, email: str | None, phone: str | None) -> str | None:
    """A contact found by email, else by phone, whose slots hold no *other* identity of ours."""
    lookups = []
    if email:
        lookups.append(lambda: directory.candidates_by_email(company_id, email))
    if phone:
        lookups.append(lambda: directory.candidates_by_phone(company_id, phone.lstrip("+")))
    for lookup in lookups:
        for candidate in lookup():
            if all(candidate.slots.get(i.slot, i.value) == i.value for i in identities if i.slot):
                return candidate.contact_id
    return None
