"""Every key of both tables is built by ``parity.core.dynamodb.key``: whatever characters the
parts hold, two different part lists never make one key, and a prefix matches whole parts only
(issue 12: a company id holding "#" read another company's room)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from parity.core.dynamodb import key
from parity.crm.store import company_pk, email_lookup_sk, room_key
from parity.inbox.store import room_pk
from parity.timeline.store import note_sk

# Parts rich in the characters that matter: the separator, the escape and its escaped forms.
parts = st.lists(st.sampled_from(["#", "%", "2", "3", "5", "a", "é", "23", "%23", "%25"]), max_size=5).map("".join)


@given(st.lists(parts, min_size=1, max_size=4), st.lists(parts, min_size=1, max_size=4))
def test_different_parts_never_make_the_same_key(a, b):
    # GIVEN two part lists; WHEN each is made a key; THEN the keys are equal only if the lists are
    assert (key(*a) == key(*b)) == (a == b)


@given(parts, parts, parts)
def test_a_prefix_matches_whole_parts_only(first, other, rest):
    # GIVEN the prefix of every key whose first part is `first`
    prefix = key(first, "")
    # THEN a key whose first part is another value never starts with it
    assert key(other, rest).startswith(prefix) == (other == first)


def test_a_company_id_holding_the_separator_cannot_reach_another_companys_room():
    # GIVEN company "a" with room "b#c", and a company "a#b" with room "c"
    # THEN their room keys differ (they were both ROOM#a#b#c before)
    assert room_pk("a", "b#c") != room_pk("a#b", "c")
    assert room_key("a", "b#c") != room_key("a#b", "c")
    assert company_pk("a#x") != company_pk("a") and not company_pk("a#x").startswith(company_pk("a") + "#")


def test_an_email_prefix_is_not_a_lookup_prefix_of_a_longer_email():
    assert not email_lookup_sk("ceo@bank.co#x.io", "id1").startswith(email_lookup_sk("ceo@bank.co"))
    assert email_lookup_sk("ceo@bank.co", "id1").startswith(email_lookup_sk("ceo@bank.co"))


def test_plain_values_keep_the_readable_layout():
    assert company_pk("acme") == "COMPANY#acme"
    assert note_sk("deal", "d1", "chat_history", "room-1") == "NOTE#DEAL#d1#chat_history#room-1"
