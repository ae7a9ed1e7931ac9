"""The OpenAPI document is honest: it describes exactly the API's routes, and schemathesis,
generating requests from it (valid and invalid), gets responses that match it and never a 500."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import CONFIG_KEY
from api.openapi import DOCUMENT
from tests.quote_helpers import make_api_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_document_is_served_and_lists_every_route(app, client):
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == DOCUMENT
    assert served.get_json()["openapi"].startswith("3.1")
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method) for path, operations in DOCUMENT["paths"].items() for method in operations
    }
    assert routes == documented


@pytest.fixture
def api_token(app, session):
    app.config[CONFIG_KEY] = 1_000_000  # schemathesis sends many requests in a minute
    return make_api_key(session, "orders:write", "invoices:read", name="Schemathesis")[1]


# Built from the same dict the app serves (checked equal above). schemathesis.pytest.from_fixture
# would load it from the app, but it does not work with pytest 9 (it sets node._nodeid).
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_matches_its_document_and_never_fails(case, app, api_token):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_token}"}, checks=CHECKS)
