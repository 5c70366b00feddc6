"""Standard Webhooks signing/verification cases and the retry schedule."""

import base64
from datetime import datetime, timedelta, timezone

import pytest
from parity.outbox import signing

SECRET = "whsec_" + base64.b64encode(b"first-secret-0123456789abcdef").decode()
NEXT = "whsec_" + base64.b64encode(b"second-secret-0123456789abcde").decode()
BODY = '{"event_id":"evt_1","eventType":"qontak.crm.deal.create","amount":1.5}'


def signed(secrets=(SECRET,), at=None, body=BODY):
    return signing.sign("evt_1", body, list(secrets), now=at or datetime.now(timezone.utc))


def test_valid_signature_verifies_and_parses_numbers_exactly():
    event = signing.verify(BODY, signed(), [SECRET])
    assert str(event["amount"]) == "1.5"


def test_signature_format_is_v1_base64():
    headers = signed()
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"].isdigit()
    version, sig = headers["webhook-signature"].split(",")
    assert version == "v1" and len(base64.b64decode(sig)) == 32


@pytest.mark.parametrize("drop", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(drop):
    headers = signed()
    del headers[drop]
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY, headers, [SECRET])


def test_wrong_secret_or_tampered_body_is_rejected():
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY, signed(secrets=(NEXT,)), [SECRET])
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY.replace("1.5", "9.5"), signed(), [SECRET])


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_rejected(offset):
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY, signed(at=datetime.now(timezone.utc) + offset), [SECRET])


def test_during_a_rotation_a_stale_delivery_is_refused_for_its_timestamp_by_either_secret():
    # GIVEN a receiver that knows both secrets, and a delivery signed with the new one 6 minutes ago
    stale = signed(secrets=(NEXT,), at=datetime.now(timezone.utc) - timedelta(minutes=6))
    # THEN it is refused, and the reason is the timestamp, not a signature the old secret did not match
    with pytest.raises(signing.InvalidSignature, match="too old"):
        signing.verify(BODY, stale, [SECRET, NEXT])


@pytest.mark.parametrize("offset", [timedelta(minutes=-4), timedelta(minutes=4)])
def test_within_five_minutes_either_way_is_accepted(offset):
    assert signing.verify(BODY, signed(at=datetime.now(timezone.utc) + offset), [SECRET])


def test_rotation_old_and_new_both_sign_and_either_side_verifies():
    # GIVEN the sender signs with both secrets during the overlap
    headers = signed(secrets=(SECRET, NEXT))
    assert len(headers["webhook-signature"].split(" ")) == 2
    # THEN a receiver that knows only the old, only the new, or both, accepts it
    for known in ([SECRET], [NEXT], [NEXT, SECRET]):
        assert signing.verify(BODY, headers, known)


@pytest.mark.parametrize("garbage", ["v1", "v1,@@@", "nonsense", ""])
def test_garbled_signature_header_is_rejected_not_crashed(garbage):
    headers = dict(signed(), **{"webhook-signature": garbage})
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY, headers, [SECRET])


def test_no_secret_configured_rejects():
    with pytest.raises(signing.InvalidSignature):
        signing.verify(BODY, signed(), [])


def test_parse_secrets_and_schedule():
    assert signing.parse_secrets(f"{SECRET} ,{NEXT}") == [SECRET, NEXT]
    assert signing.parse_secrets(None) == []
    assert signing.parse_schedule("1, 2,3") == (1, 2, 3)
    assert signing.parse_schedule("") == signing.DEFAULT_RETRY_SCHEDULE
    with pytest.raises(ValueError):
        signing.parse_schedule("1,-2")


def test_default_schedule_reaches_at_least_24_hours_with_backoff():
    schedule = signing.DEFAULT_RETRY_SCHEDULE
    assert sum(schedule) >= 24 * 3600
    assert list(schedule) == sorted(schedule)
    assert max(schedule) <= signing.MAX_DELAY_SECONDS


def test_after_failure_follows_the_schedule_then_gives_up():
    schedule = (5, 10)
    first = signing.after_failure(1, status=500, retry_after=None, reason="answered 500", schedule=schedule)
    second = signing.after_failure(2, status=None, retry_after=None, reason="timed out", schedule=schedule)
    last = signing.after_failure(3, status=500, retry_after=None, reason="answered 500", schedule=schedule)
    assert (first.give_up, first.delay) == (False, 5)
    assert (second.give_up, second.delay) == (False, 10)
    assert last.give_up and "3 attempts" in last.reason


def test_410_stops_at_once():
    assert signing.after_failure(1, status=410, retry_after=None, reason="answered 410", schedule=(5,)).give_up


def test_retry_after_is_honoured_but_capped():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert signing.after_failure(1, status=429, retry_after="120", reason="r", schedule=(5,)).delay == 120
    assert signing.after_failure(1, status=429, retry_after="2", reason="r", schedule=(5,)).delay == 5
    assert signing.after_failure(1, status=503, retry_after="Thu, 01 Jan 2026 00:01:00 GMT", reason="r", schedule=(5,), now=now).delay == 60
    assert signing.after_failure(1, status=429, retry_after="999999", reason="r", schedule=(5,)).delay == signing.MAX_DELAY_SECONDS
    assert signing.after_failure(1, status=429, retry_after="soon", reason="r", schedule=(5,)).delay == 5
