"""The ``Idempotency-Key`` header as the API's document shows it (``idempotency.HEADER_SCHEMA``, one
schema for every route that takes it) is the header ``key_hash`` accepts: any text of 1 to 255
characters that is not all blank (DESIGN.md: "≤ 255 chars")."""

from __future__ import annotations

import jsonschema
from hypothesis import example, given
from hypothesis import strategies as st
from parity.core import idempotency
from parity.core.errors import ValidationFailed

DOCUMENTED = jsonschema.Draft202012Validator(idempotency.HEADER_SCHEMA)


def _accepted(value: str) -> bool:
    try:
        idempotency.key_hash(value)
    except ValidationFailed:
        return False
    return True


@given(st.text(max_size=300) | st.text(alphabet=" \t\u00a0\u3000x", max_size=5))
@example("a b")  # a space inside: the document said visible ASCII only, the code (and DESIGN) allow it
@example("   ")
@example("x" * 255)
@example("x" * 256)
def test_the_document_admits_exactly_the_keys_the_code_accepts(value):
    assert DOCUMENTED.is_valid(value) is _accepted(value)
