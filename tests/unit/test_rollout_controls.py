"""The controls an operator turns without a redeploy, over fakes and a fake clock: the parity flag's
cache (the rollback's 60 s promise), the signing secrets' cache and fallback (rotation), and
tokens of a revoked API key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from parity.core.settings import Settings
from parity.crm import flags, service
from parity.crm.credentials import hash_secret, token_company
from parity.crm.store import Token
from parity.outbox.secrets import (
    SecretsUnavailable,
    SigningSecretParameter,
    SigningSecrets,
)
from pydantic import ValidationError

from .fakes import FakeStore

OLD = "whsec_" + "b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQtb2xkLW9sZA=="
NEW = "whsec_" + "bmV3LW5ldy1uZXctbmV3LW5ldy1uZXctbmV3LW5ldw=="


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ---- the parity flag ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_flags():
    flags.forget()
    yield
    flags.forget()


def test_flag_off_reaches_the_router_once_its_cache_expires():
    # GIVEN a company whose flag is on, asked about once (the router caches the answer)
    clock, stored = Clock(), {"c1": True}
    ask = lambda: flags.parity_enabled("c1", lookup=stored.get, default=False, ttl=30, now=clock)  # noqa: E731
    assert ask() is True
    # WHEN an operator turns it off
    stored["c1"] = False
    # THEN the router goes on for at most the cache time, then stops
    clock.t += 29.9
    assert ask() is True
    clock.t += 0.2
    assert ask() is False


def test_the_flag_cache_never_exceeds_60_seconds_and_defaults_to_30():
    clock, stored = Clock(), {"c1": True}
    flags.parity_enabled("c1", lookup=stored.get, default=False, ttl=3600, now=clock)
    stored["c1"] = False
    clock.t += 60.1
    assert flags.parity_enabled("c1", lookup=stored.get, default=False, ttl=3600, now=clock) is False
    assert Settings.model_validate({}).flag_cache_seconds == 30
    with pytest.raises(ValidationError):
        Settings.model_validate({"PARITY_FLAG_CACHE_SECONDS": "61"})


def test_a_company_without_its_own_flag_follows_the_default():
    assert flags.parity_enabled("new", lookup=lambda c: None, default=True) is True
    flags.forget()
    assert flags.parity_enabled("new", lookup=lambda c: None, default=False) is False


# ---- the signing secrets -------------------------------------------------------------------------------
class FakeSsm:
    def __init__(self, value: str | None = None) -> None:
        self.value = value
        self.reads = 0
        self.failing = False

    def get_parameter(self, *, Name: str, WithDecryption: bool) -> dict:  # noqa: N803
        self.reads += 1
        assert WithDecryption
        if self.failing:
            raise EndpointConnectionError(endpoint_url="https://ssm.example")
        if self.value is None:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": "nope"}}, "GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.value, "LastModifiedDate": datetime(2026, 1, 1, tzinfo=timezone.utc)}}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """One fake clock for our retry timer and for powertools' parameter cache (which reads datetime.now())."""
    from aws_lambda_powertools.utilities.parameters import base

    clock = Clock()
    start = datetime(2026, 1, 1)

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001
            return start + timedelta(seconds=clock.t)

    monkeypatch.setattr(base, "datetime", FakeDatetime)
    return clock


def test_without_a_parameter_the_deploy_time_secret_signs():
    assert SigningSecrets(None, OLD, ttl_seconds=30).current() == [OLD]


def test_until_the_parameter_exists_the_deploy_time_secret_signs_and_the_answer_is_cached(clock):
    ssm = FakeSsm()
    secrets = SigningSecrets("/parity/webhook-signing-secret", OLD, ttl_seconds=30, client=ssm, now=clock)  # type: ignore[arg-type]
    assert secrets.current() == [OLD] and secrets.current() == [OLD]
    assert ssm.reads == 1


def test_a_rotation_reaches_the_function_within_its_cache_time(clock):
    # GIVEN a function that read the single old secret
    ssm = FakeSsm(OLD)
    secrets = SigningSecrets("/p", OLD, ttl_seconds=30, client=ssm, now=clock)  # type: ignore[arg-type]
    assert secrets.current() == [OLD]
    # WHEN an operator starts a rotation (both sign) / THEN the function sees it within 30 s
    ssm.value = f"{NEW} {OLD}"
    clock.t += 29
    assert secrets.current() == [OLD]
    clock.t += 2
    assert secrets.current() == [NEW, OLD]
    # AND after the rotation is finished, only the new one
    ssm.value = NEW
    clock.t += 31
    assert secrets.current() == [NEW]


def test_an_ssm_outage_keeps_the_last_secrets_and_asks_again_soon(clock):
    ssm = FakeSsm(f"{NEW} {OLD}")
    secrets = SigningSecrets("/p", OLD, ttl_seconds=30, client=ssm, now=clock)  # type: ignore[arg-type]
    assert secrets.current() == [NEW, OLD]
    ssm.failing = True
    clock.t += 31
    assert secrets.current() == [NEW, OLD]  # not the stale deploy-time value
    reads = ssm.reads
    clock.t += 1
    assert secrets.current() == [NEW, OLD] and ssm.reads == reads  # not asked again at once
    ssm.failing, ssm.value = False, NEW
    clock.t += 5  # retried after a few seconds, not a whole cache period
    assert secrets.current() == [NEW]
    assert NEW not in repr(secrets) and OLD not in repr(secrets)


def test_an_ssm_outage_before_any_read_signs_with_the_deploy_time_secret(clock):
    ssm = FakeSsm(NEW)
    ssm.failing = True
    assert SigningSecrets("/p", OLD, ttl_seconds=30, client=ssm, now=clock).current() == [OLD]  # type: ignore[arg-type]


def test_the_operator_tool_reads_the_parameter_fresh_and_when_it_changed():
    # GIVEN the parameter as parity ops reads it (no cache: max_age 0)
    ssm = FakeSsm(f"{NEW} {OLD}")
    parameter = SigningSecretParameter(boto3_client=ssm)  # type: ignore[arg-type]
    stored = parameter.read("/p", max_age=0)
    assert stored is not None and stored.secrets == [NEW, OLD] and stored.changed_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert NEW not in repr(stored)
    ssm.value = NEW
    assert parameter.read("/p", max_age=0).secrets == [NEW]  # type: ignore[union-attr]
    # AND a parameter that does not exist is no parameter; an SSM failure is an error, not a fallback
    ssm.value = None
    assert parameter.read("/p", max_age=0) is None
    ssm.failing = True
    with pytest.raises(SecretsUnavailable, match="EndpointConnectionError"):
        parameter.read("/p", max_age=0)


def test_the_secret_cache_is_at_most_60_seconds():
    assert Settings.model_validate({}).webhook_secret_cache_seconds == 30
    with pytest.raises(ValidationError):
        Settings.model_validate({"WEBHOOK_SECRET_CACHE_SECONDS": "120"})


# ---- revoked keys --------------------------------------------------------------------------------------
def test_a_token_stops_working_when_its_api_key_is_revoked():
    # GIVEN a token exchanged for a key
    store = FakeStore()
    store.api_keys[hash_secret("pk_leaked")] = "c1"
    issued = service.exchange_api_key(store, "pk_leaked", {"sso_id": "flow"}, ttl_seconds=600)
    token_hash = hash_secret(issued["access_token"])
    assert token_company(store, token_hash, now=0) is not None
    # WHEN the key is revoked / THEN the token is refused, and the key cannot make new ones
    store.revoked.add(hash_secret("pk_leaked"))
    assert token_company(store, token_hash, now=0) is None
    assert service.company_for_token(store, issued["access_token"], now=0) is None


def test_a_token_from_before_keys_were_recorded_lives_until_it_expires():
    store = FakeStore()
    store.tokens["h"] = Token("c1", 100, None)
    assert token_company(store, "h", now=99)[:2] == ("c1", 100)
    assert token_company(store, "h", now=100) is None
