"""Processor secrets at rest, the payment settings, and the CSP that lets Stripe.js in."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from billing.secrets import Cipher, SecretsUnavailable, mask
from config import ConfigError, Settings
from web.security import content_security_policy

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "s" * 40


def test_multifernet_rotation():
    token = Cipher([OLD]).encrypt("sk_test_123456")
    both = Cipher([NEW, OLD])
    assert both.decrypt(token) == "sk_test_123456"
    rotated = both.rotate(token)
    assert Cipher([NEW]).decrypt(rotated) == "sk_test_123456"
    with pytest.raises(SecretsUnavailable):
        Cipher([NEW]).decrypt(token)
    with pytest.raises(SecretsUnavailable, match="PAYDESK_ENCRYPTION_KEYS"):
        Cipher([]).encrypt("x")


def test_mask_shows_only_the_prefix_and_last_four():
    assert mask("sk_test_abcdef1234") == "sk_…••••1234"
    assert mask("whsec_abcdef9876") == "whsec_…••••9876"
    assert mask("") == ""


def test_payment_settings_from_the_environment():
    settings = Settings.from_env(
        {
            "PAYDESK_SECRET_KEY": SECRET,
            "PAYDESK_ENCRYPTION_KEYS": f"{NEW}, {OLD}",
            "PAYDESK_STRIPE_SECRET_KEY": "sk_test_x",
            "PAYDESK_STRIPE_API_BASE": "http://127.0.0.1:8420",
            "PAYDESK_STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/",
            "PAYDESK_PAY_LINK_DAYS": "45",
        }
    )
    assert settings.encryption_keys == (NEW, OLD)
    assert settings.stripe_js_origin == "http://127.0.0.1:8420"
    assert settings.pay_link_days == 45
    defaults = Settings.from_env({"PAYDESK_SECRET_KEY": SECRET})
    assert (defaults.stripe_api_base, defaults.stripe_js_url, defaults.pay_link_days) == (
        "https://api.stripe.com",
        "https://js.stripe.com/v3/",
        30,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYDESK_ENCRYPTION_KEYS", "not-a-fernet-key"),
        ("PAYDESK_STRIPE_API_BASE", "api.stripe.com"),
        ("PAYDESK_STRIPE_JS_URL", "ftp://js"),
        ("PAYDESK_PAY_LINK_DAYS", "0"),
    ],
)
def test_bad_payment_settings_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"PAYDESK_SECRET_KEY": SECRET, name: value})


def test_csp_lets_in_exactly_the_stripe_origins():
    policy = content_security_policy("https://js.stripe.com", "https://api.stripe.com")
    assert "script-src 'self' https://js.stripe.com https://*.js.stripe.com;" in policy
    assert (
        "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com;"
        in policy
    )
    assert "connect-src 'self' https://js.stripe.com https://api.stripe.com;" in policy
    assert "style-src 'self';" in policy and "unsafe" not in policy
    local = content_security_policy("http://127.0.0.1:8420", "http://127.0.0.1:8420")
    assert "connect-src 'self' http://127.0.0.1:8420;" in local
    assert "frame-src http://127.0.0.1:8420;" in local  # localstripe: its one origin only
