"""One contact per customer across channels: the resolution order, the one-identity-per-type rule,
business-scoped ids as channel-scoped aliases, and racing first messages (an in-memory directory
that keeps the adapter's conditional semantics)."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from parity.crm.identity import Candidate, Identity, e164, resolve

from ..racing import at_once


class Directory:
    """The CRM's contacts as the DynamoDB adapter keeps them: identity → contact, contact slots."""

    def __init__(self) -> None:
        self.identities: dict[tuple[str, Identity], str] = {}
        self.slots: dict[tuple[str, str], dict[str, str]] = {}
        self.contacts: dict[str, dict] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def add(self, company, *, email=None, phone=None, slots=None):
        contact_id = f"c{next(self.ids)}"
        self.contacts[contact_id] = {"company": company, "email": email, "phone": phone}
        self.slots[(company, contact_id)] = dict(slots or {})
        return contact_id

    def contact_for_identity(self, company_id, identity):
        return self.identities.get((company_id, identity))

    def _by(self, company_id, field, value):
        return [Candidate(cid, dict(self.slots[(company_id, cid)])) for cid, c in self.contacts.items() if c["company"] == company_id and c[field] == value]

    def candidates_by_email(self, company_id, email):
        return self._by(company_id, "email", email)

    def candidates_by_phone(self, company_id, digits):
        return [c for c in self._by(company_id, "phone", "+" + digits)]

    def link_identities(self, company_id, contact_id, identities):
        linked = []
        with self.lock:
            for identity in identities:
                if (company_id, identity) in self.identities:
                    continue
                slots = self.slots[(company_id, contact_id)]
                if identity.slot and slots.get(identity.slot, identity.value) != identity.value:
                    continue
                self.identities[(company_id, identity)] = contact_id
                if identity.slot:
                    slots[identity.slot] = identity.value
                linked.append(identity)
        return linked

    def create_contact_with(self, company_id, *, name, phone, email, identities):
        with self.lock:
            if any((company_id, i) in self.identities for i in identities):
                return None
            slots = {i.slot: i.value for i in identities if i.slot}
            contact_id = self.add(company_id, email=email, phone=phone, slots=slots)
            for identity in identities:
                self.identities[(company_id, identity)] = contact_id
            return contact_id


WA = Identity("whatsapp", "", "6281234567890")


def test_a_known_identity_finds_its_contact():
    directory = Directory()
    first = resolve(directory, "co", [WA], name="Budi", phone="+6281234567890")
    again = resolve(directory, "co", [WA], name="Budi S")
    assert first.created and not again.created and again.contact_id == first.contact_id


def test_a_new_channel_identity_joins_the_contact_with_the_same_email_or_phone():
    directory = Directory()
    by_email = directory.add("co", email="ana@example.com")
    by_phone = directory.add("co", phone="+6281234567890")
    slack = Identity("slack", "T1", "U1")
    assert resolve(directory, "co", [slack], name="Ana", email="Ana@Example.com ").contact_id == by_email
    # a national-form phone is read in the channel's region
    assert resolve(directory, "co", [WA], name="Budi", phone="0812-3456-7890", region="ID").contact_id == by_phone


def test_a_contact_never_takes_a_second_identity_of_one_channel_type():
    directory = Directory()
    owner = directory.add("co", email="shared@example.com", slots={"slack": "U-OLD"})
    # GIVEN a contact already linked to Slack user U-OLD; WHEN another Slack user writes with its email
    other = resolve(directory, "co", [Identity("slack", "T1", "U-NEW")], name="Someone", email="shared@example.com")
    # THEN a new contact is made for them
    assert other.created and other.contact_id != owner


def test_a_business_scoped_id_is_a_channel_scoped_alias_beside_the_wa_id():
    directory = Directory()
    bsuid = Identity("whatsapp", "ch_1", "US.1349", alias=True)
    first = resolve(directory, "co", [WA, bsuid], name="Budi")
    # the BSUID alone (a username user, no phone) finds the same contact on that channel only
    assert resolve(directory, "co", [bsuid], name="Budi").contact_id == first.contact_id
    other_channel = Identity("whatsapp", "ch_2", "US.1349", alias=True)
    assert resolve(directory, "co", [other_channel], name="Budi").contact_id != first.contact_id


def test_companies_never_share_contacts():
    directory = Directory()
    assert resolve(directory, "a", [WA], name="Budi").contact_id != resolve(directory, "b", [WA], name="Budi").contact_id


def test_racing_first_messages_of_one_customer_make_one_contact():
    directory = Directory()
    results = at_once([lambda: resolve(directory, "co", [WA], name="Budi").contact_id] * 8)
    assert len(set(results)) == 1 and len(directory.contacts) == 1


def test_phone_numbers_are_read_as_e164():
    assert e164("+62 812-3456-7890", None) == "+6281234567890"
    assert e164("(0812) 3456 7890", "ID") == "+6281234567890"
    assert e164("12", "ID") is None and e164("not a phone", "ID") is None and e164(None, "ID") is None


senders = st.lists(
    st.tuples(
        st.sampled_from(["whatsapp", "slack", "intercom"]),
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from([None, "a@x.io", "b@x.io"]),
        st.sampled_from([None, "+6281111111111", "+6282222222222"]),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(senders)
def test_whatever_order_senders_arrive_in_no_contact_holds_two_identities_of_a_type(arrivals):
    directory = Directory()
    seen = {}
    for channel_type, user, email, phone in arrivals:
        identity = Identity(channel_type, "s", user)
        contact = resolve(directory, "co", [identity], name=user, email=email, phone=phone).contact_id
        # THEN one identity is always one contact
        assert seen.setdefault(identity, contact) == contact
    # AND no contact holds two different identities of one type
    by_contact = {}
    for (_, identity), contact in directory.identities.items():
        assert by_contact.setdefault((contact, identity.channel_type), identity.value) == identity.value
