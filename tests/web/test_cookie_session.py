"""The session's signing serializer is built once per key list, and key rotation still works."""

from __future__ import annotations

from flask import Flask

from web.cookie_session import CachedSerializerSessionInterface


def test_one_serializer_per_key_list_and_rotation_still_verifies():
    app = Flask(__name__)
    app.secret_key = "old-key-" * 5
    interface = CachedSerializerSessionInterface()
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    cookie = first.dumps({"user": 1})

    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]
    app.secret_key = "new-key-" * 5
    rotated = interface.get_signing_serializer(app)
    assert rotated is not first
    assert rotated.loads(cookie) == {"user": 1}  # signed with the old key, still accepted
    assert rotated.dumps({"user": 1}) != cookie  # new cookies use the new key
