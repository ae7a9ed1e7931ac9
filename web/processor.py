"""What payment views need from the app: the gateway, the public base URL, and what a page
with Stripe.js needs (its URL and the publishable key, never a secret)."""

from __future__ import annotations

from flask import current_app

from billing.gateways.base import PaymentGateway
from web.hooks import STRIPE_PATH


def gateway() -> PaymentGateway:
    return current_app.extensions["paydesk.gateway"]


def base_url() -> str:
    return current_app.extensions["paydesk.settings"].base_url


def webhook_url() -> str:
    """The address to give Stripe for webhooks (served by web.hooks)."""
    return base_url().rstrip("/") + STRIPE_PATH


def stripe_js() -> dict[str, str | None]:
    """Template values for a page that loads Stripe.js: its URL and the publishable key (None
    when card payments are not set up, and the page says so instead of showing a form)."""
    return {
        "stripe_js_url": current_app.extensions["paydesk.settings"].stripe_js_url,
        "publishable_key": current_app.extensions["paydesk.keys"].publishable_key(),
    }
