"""Response headers that make the browser enforce our rules: a strict Content-Security-Policy
(our own scripts and styles only, plus the Stripe.js origin when payments need it), no framing,
no sniffing, no referrer leaking tokens in URLs."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, request

STRIPE_JS_ORIGIN = "https://js.stripe.com"


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    stripe_js_origin: str | None = None, stripe_api_origin: str | None = None
) -> str:
    """The policy for every page. With Stripe configured it lets in exactly the Stripe.js
    origin from settings (script, frame, connect) and the API origin for connect (Stripe.js
    talks to the API from the browser; with localstripe both are the same origin).

    Real Stripe.js (https://js.stripe.com) also loads its card fields and the 3-D Secure
    challenge from https://*.js.stripe.com and falls back to https://hooks.stripe.com for
    redirect-based authentication, as Stripe's CSP guidance lists; the bank's own challenge
    page is framed inside Stripe's frame, under Stripe's policy, so no bank origin is needed
    here."""
    scripts = [stripe_js_origin] if stripe_js_origin else []
    frames = list(scripts)
    if stripe_js_origin == STRIPE_JS_ORIGIN:
        scripts.append("https://*.js.stripe.com")
        frames += ["https://*.js.stripe.com", "https://hooks.stripe.com"]
    script = " ".join(["'self'", *scripts])
    frame = " ".join(frames) or "'none'"
    connect = ["'self'"]
    for origin in (stripe_js_origin, stripe_api_origin):
        if origin and origin not in connect:
            connect.append(origin)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self'",
            "img-src 'self' data:",
            f"frame-src {frame}",
            "connect-src " + " ".join(connect),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _has_nul(values) -> bool:
    return any("\x00" in value for _key, items in values for value in items)


def refuse_nul_bytes() -> None:
    """NUL is never valid text (PostgreSQL cannot store it): one clear 400 for every form.
    Only form-encoded bodies make a form (werkzeug parses no other), so only they are read."""
    if _has_nul(request.args.lists()) or (
        request.mimetype in FORM_MIMETYPES and _has_nul(request.form.lists())
    ):
        abort(400, "The request contained an invalid character (NUL).")


def init_app(
    app: Flask, *, stripe_js_url: str | None = None, stripe_api_base: str | None = None
) -> None:
    app.before_request(refuse_nul_bytes)
    policy = content_security_policy(
        origin_of(stripe_js_url) if stripe_js_url else None,
        origin_of(stripe_api_base) if stripe_api_base else None,
    )

    always = [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if app.config["SESSION_COOKIE_SECURE"]:
        always.append(("Strict-Transport-Security", "max-age=31536000"))

    @app.after_request
    def _headers(response: Response) -> Response:
        """Each header unless the view set its own (the names a response already has are read
        once: werkzeug answers every missing-name lookup with a raised exception)."""
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, value in always:
            if name.lower() not in present:
                headers.add(name, value)
        # A view that may be framed (the Pay Now widget) sets its own CSP frame-ancestors;
        # X-Frame-Options cannot name allowed origins, so it is left off there only.
        csp = (
            policy
            if "content-security-policy" not in present
            else headers["Content-Security-Policy"]
        )
        if "x-frame-options" not in present and "frame-ancestors 'none'" in csp:
            headers.add("X-Frame-Options", "DENY")
        if (
            "cache-control" not in present
            and request.endpoint
            and not request.endpoint.startswith("static")
        ):
            headers.add("Cache-Control", "no-store")
        return response
