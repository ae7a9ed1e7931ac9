"""Response headers that make the browser enforce our rules: a strict Content-Security-Policy
(our own scripts and styles only, plus the Stripe.js origin when payments need it), no framing,
no sniffing, no referrer leaking tokens in URLs."""

from __future__ import annotations

from flask import Flask, Response, request


def content_security_policy(stripe_js_origin: str | None = None) -> str:
    script = "'self'" + (f" {stripe_js_origin}" if stripe_js_origin else "")
    frame = stripe_js_origin or "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self'",
            "img-src 'self' data:",
            f"frame-src {frame}",
            "connect-src 'self'" + (f" {stripe_js_origin}" if stripe_js_origin else ""),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask) -> None:
    policy = content_security_policy()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint and not request.endpoint.startswith("static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
