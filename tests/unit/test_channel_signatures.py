"""Each provider's webhook signature, checked against the providers' documented examples (and the
provider's own library for Slack), not only against our own signer."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity.conversations import signatures
from parity.conversations.signatures import BadSignature

# Slack's documented example (docs.slack.dev "Verifying requests from Slack").
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
    b"&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
    b"%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
# The X-Hub-Signature scheme Meta uses for WhatsApp is GitHub's: its documented example.
HUB_SECRET = "It's a Secret to Everybody"
HUB_BODY = b"Hello, World!"
HUB_SHA256 = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
# Intercom's SHA-1 variant of the same scheme, computed independently (openssl dgst -sha1 -hmac).
HUB_SHA1 = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"


def slack_headers(signature=SLACK_SIGNATURE, ts=SLACK_TS):
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}


# ---- Slack ----------------------------------------------------------------------------------------
def test_slacks_documented_example_verifies():
    signatures.verify_slack(SLACK_BODY, slack_headers(), SLACK_SECRET, now=lambda: SLACK_TS + 10)


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_a_slack_timestamp_more_than_300_s_away_either_way_is_refused(skew):
    with pytest.raises(BadSignature, match="300 s"):
        signatures.verify_slack(SLACK_BODY, slack_headers(), SLACK_SECRET, now=lambda: SLACK_TS + skew)


@pytest.mark.parametrize(
    "headers,secret,problem",
    [
        (slack_headers(), "", "no signing secret"),
        (slack_headers(), "   ", "no signing secret"),
        (slack_headers(), None, "no signing secret"),
        (slack_headers(), "another-secret", "does not match"),
        ({"X-Slack-Signature": SLACK_SIGNATURE}, SLACK_SECRET, "Timestamp is missing"),
        ({"X-Slack-Request-Timestamp": str(SLACK_TS)}, SLACK_SECRET, "Signature is missing"),
        (slack_headers(ts="soon"), SLACK_SECRET, "not a Unix time"),
        (slack_headers(signature="v0=" + "0" * 64), SLACK_SECRET, "does not match"),
    ],
)
def test_a_slack_delivery_that_is_not_signed_right_is_refused(headers, secret, problem):
    with pytest.raises(BadSignature, match=problem):
        signatures.verify_slack(SLACK_BODY, headers, secret, now=lambda: SLACK_TS)


def test_a_tampered_slack_body_is_refused():
    with pytest.raises(BadSignature):
        signatures.verify_slack(SLACK_BODY + b"&x=1", slack_headers(), SLACK_SECRET, now=lambda: SLACK_TS)


def test_our_slack_signer_is_slack_sdks():
    from slack_sdk.signature import SignatureVerifier

    headers = signatures.sign_slack(b'{"type":"event_callback"}', "s3cret", timestamp=1_700_000_000)
    verifier = SignatureVerifier("s3cret", clock=type("C", (), {"now": lambda self: 1_700_000_000})())
    assert verifier.is_valid_request(b'{"type":"event_callback"}', headers)


# ---- WhatsApp (Meta) -------------------------------------------------------------------------------
def test_the_documented_x_hub_signature_256_example_verifies():
    signatures.verify_whatsapp(HUB_BODY, {"X-Hub-Signature-256": HUB_SHA256}, HUB_SECRET)
    signatures.verify_whatsapp(HUB_BODY, {"x-hub-signature-256": HUB_SHA256.upper().replace("SHA256=", "sha256=")}, HUB_SECRET)


@pytest.mark.parametrize(
    "headers,secret",
    [
        ({"X-Hub-Signature-256": HUB_SHA256}, ""),
        ({"X-Hub-Signature-256": HUB_SHA256}, None),
        ({"X-Hub-Signature-256": HUB_SHA256}, "other"),
        ({}, HUB_SECRET),
        ({"X-Hub-Signature-256": HUB_SHA256.removeprefix("sha256=")}, HUB_SECRET),
        ({"X-Hub-Signature-256": "sha1=" + HUB_SHA256.removeprefix("sha256=")}, HUB_SECRET),
        ({"X-Hub-Signature": HUB_SHA1}, HUB_SECRET),  # Intercom's header is not Meta's
    ],
)
def test_a_whatsapp_delivery_not_signed_with_the_app_secret_is_refused(headers, secret):
    with pytest.raises(BadSignature):
        signatures.verify_whatsapp(HUB_BODY, headers, secret)


# ---- Intercom -------------------------------------------------------------------------------------
def test_intercom_signs_with_sha1_not_sha256():
    signatures.verify_intercom(HUB_BODY, {"X-Hub-Signature": HUB_SHA1}, HUB_SECRET)
    # the seed's SHA-256 would never verify
    with pytest.raises(BadSignature):
        signatures.verify_intercom(HUB_BODY, {"X-Hub-Signature": HUB_SHA256}, HUB_SECRET)


@given(body=st.binary(max_size=200), secret=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_body_signed_by_a_provider_verifies_and_any_change_does_not(body, secret):
    # GIVEN a body signed as each provider signs; THEN it verifies, and one flipped byte does not
    for provider in ("whatsapp", "intercom"):
        headers = signatures.SIGNERS[provider](body, secret)
        signatures.VERIFIERS[provider](body, headers, secret)
        with pytest.raises(BadSignature):
            signatures.VERIFIERS[provider](body + b"\x00", headers, secret)
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signatures.sign_whatsapp(body, secret)["X-Hub-Signature-256"] == f"sha256={expected}"


# ---- the WhatsApp subscription handshake -----------------------------------------------------------
def test_the_handshake_echoes_the_challenge_only_for_the_right_verify_token():
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert signatures.whatsapp_challenge(query, "tok") == "1158201444"
    assert signatures.whatsapp_challenge({**query, "hub.verify_token": "nope"}, "tok") is None
    assert signatures.whatsapp_challenge({**query, "hub.mode": "unsubscribe"}, "tok") is None
    assert signatures.whatsapp_challenge(query, None) is None  # fails closed without a token
    assert signatures.whatsapp_challenge(query, "") is None
