"""parity.core.dynamodb.dump_value: the fast path writes exactly what boto3's TypeSerializer
writes, and refuses exactly what it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st
from parity.core.dynamodb import dump_item, dump_value

_BOTO = TypeSerializer()

scalars = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),  # both sides of the 38-digit limit
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**10), max_value=10**10),
    st.binary(min_size=1, max_size=8).map(Binary),
    st.sets(st.text(min_size=1), max_size=3),
    st.sets(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)


def _outcome(serialize, value):
    try:
        return "ok", serialize(value)
    except Exception as exc:  # noqa: BLE001 - the type of refusal is what is compared
        return "refused", type(exc)


@given(values)
def test_every_value_is_written_as_boto3_writes_it_or_refused_alike(value):
    # GIVEN any value an item could hold (nested maps and lists, numbers past DynamoDB's precision)
    # WHEN both serializers write it
    # THEN the attribute value (or the refusal) is the same
    assert _outcome(dump_value, value) == _outcome(_BOTO.serialize, value)


@pytest.mark.parametrize("refused", [1.5, float("nan"), object()])
def test_what_boto3_refuses_is_refused(refused):
    with pytest.raises((TypeError, ValueError)):
        dump_value(refused)


def test_an_item_is_each_attribute_written():
    item = {"pk": "COMPANY#c1", "n": 7, "d": Decimal("1.25"), "flag": True, "none": None, "tags": ["a", {"b": 1}]}
    assert dump_item(item) == {k: _BOTO.serialize(v) for k, v in item.items()}
