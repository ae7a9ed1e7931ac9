"""create_app: builds the Flask app from Settings. One of the two places that choose concrete
implementations (the job dispatcher here; the payment gateway will join it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from billing.db import make_engine, make_session_factory
from billing.outbox import install_dispatcher
from billing.services import auth as auth_service
from billing.services import company as company_service
from billing.services import documents  # noqa: F401  (registers email attachment renderers)
from config import Settings
from web import errors, hooks, jinja, security
from web.cookie_session import CachedSerializerSessionInterface
from web.extensions import csrf, db, login_manager
from workers import runtime

ROOT = Path(__file__).resolve().parents[1]


def create_app(settings: Settings | None = None, *, gateway=None) -> Flask:
    """The app for `settings` (from the environment by default). `gateway` replaces the Stripe
    gateway (tests pass a fake one); otherwise workers.runtime builds it from settings."""
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        SESSION_COOKIE_NAME="paydesk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # The auth_sessions row holds the expiry; re-signing the cookie on every response buys
        # nothing.
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=settings.session_hours * 3600,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
    )
    app.session_interface = CachedSerializerSessionInterface()
    app.extensions["paydesk.settings"] = settings
    app.extensions["paydesk.auth_limits"] = auth_service.Limits(
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
    )

    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    db.init_app(app, factory)
    rt = runtime.configure(settings, factory, gateway=gateway)
    install_dispatcher(factory, rt.dispatcher)
    app.extensions["paydesk.gateway"] = rt.gateway
    app.extensions["paydesk.keys"] = rt.keys
    app.extensions["paydesk.branding"] = company_service.BrandingCache()

    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are revocable rows; see web/auth.py
    import web.auth  # noqa: F401  (registers the user loader)

    csrf.init_app(app)
    security.init_app(
        app, stripe_js_url=settings.stripe_js_url, stripe_api_base=settings.stripe_api_base
    )
    errors.init_app(app)
    jinja.init_app(app)

    from admin.blueprint import blueprint as admin_blueprint
    from api.blueprint import blueprint as api_blueprint
    from portal.blueprint import blueprint as portal_blueprint
    from web.health import blueprint as health_blueprint

    app.register_blueprint(health_blueprint)
    app.register_blueprint(portal_blueprint)
    app.register_blueprint(admin_blueprint, url_prefix="/admin")
    csrf.exempt(api_blueprint)  # API requests carry a key, not a cookie
    app.register_blueprint(api_blueprint)
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        hooks.mount(app, app.wsgi_app), x_for=1, x_proto=1, x_host=1
    )
    return app
