"""Credentials are random and hashed; settings are validated once."""

import pytest
from parity.core.settings import Settings
from parity.crm.credentials import bearer_token, hash_secret, new_api_key, new_token
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc", "abc"), ("  Bearer   abc  ", "abc"), ("Basic abc", None), ("Bearer", None), ("Bearer a b", None), ("", None), (None, None)],
)
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token


def test_secrets_are_random_and_hashes_hide_them():
    a, b = new_token(), new_token()
    assert a != b and len(a) > 40
    assert new_api_key().startswith("pk_")
    assert hash_secret(a) != a and len(hash_secret(a)) == 64
    assert hash_secret(a) == hash_secret(a)


def test_settings_read_from_environment_names():
    settings = Settings.model_validate({"CRM_TABLE_NAME": "t", "TOKEN_TTL_SECONDS": "120", "ALLOW_PRIVATE_TARGETS": "true"})
    assert settings.allow_private_targets is True and settings.parity_default_enabled is False
    assert settings.crm_table_name == "t" and settings.token_ttl_seconds == 120
    assert "{id}" in settings.crm_record_url_template


@pytest.mark.parametrize(
    "env",
    [{"CRM_TABLE_NAME": ""}, {"CRM_TABLE_NAME": "t", "CRM_RECORD_URL_TEMPLATE": "https://x/"}, {"CRM_TABLE_NAME": "t", "CRM_RECORD_URL_TEMPLATE": "https://x/{id}/{oops}"}, {"CRM_TABLE_NAME": "t", "TOKEN_TTL_SECONDS": "5"}],
)
def test_bad_settings_are_refused(env):
    with pytest.raises(ValidationError):
        Settings.model_validate(env)


def test_require_names_the_missing_variable():
    with pytest.raises(RuntimeError, match="PREVIEW_TABLE_NAME"):
        Settings.model_validate({"CRM_TABLE_NAME": "t"}).require("preview_table_name")
