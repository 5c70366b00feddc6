"""The local stack's default configuration: replies go to its fake providers and the chat history
to its own route unless the developer sets the variables (DESIGN.md "Configuration")."""

from __future__ import annotations

from parity_dev.local_stack import OVERRIDABLE_VARIABLES, local_defaults, overrides_from

BASE = "http://127.0.0.1:3000"


def test_replies_go_to_the_stacks_fake_providers_and_the_history_to_its_own_route():
    defaults = local_defaults(BASE)
    assert {name: defaults[name] for name in ("WHATSAPP_API_BASE_URL", "SLACK_API_BASE_URL", "INTERCOM_API_BASE_URL", "HUB_API_BASE_URL")} == {
        "WHATSAPP_API_BASE_URL": f"{BASE}/_fake/whatsapp", "SLACK_API_BASE_URL": f"{BASE}/_fake/slack",
        "INTERCOM_API_BASE_URL": f"{BASE}/_fake/intercom", "HUB_API_BASE_URL": BASE,
    }
    assert defaults["ALLOW_PRIVATE_TARGETS"] == "true"  # all of them are on loopback


def test_the_developers_own_provider_urls_win_over_the_fakes():
    environ = {"SLACK_API_BASE_URL": "https://slack.com", "HOME": "/root", "WHATSAPP_API_BASE_URL": ""}
    assert {"WHATSAPP_API_BASE_URL", "SLACK_API_BASE_URL", "INTERCOM_API_BASE_URL"} <= set(OVERRIDABLE_VARIABLES)
    variables = {**local_defaults(BASE), **overrides_from(environ)}
    assert variables["SLACK_API_BASE_URL"] == "https://slack.com"  # set: it wins
    assert variables["WHATSAPP_API_BASE_URL"] == f"{BASE}/_fake/whatsapp"  # empty: the default stays
    assert "HOME" not in variables
