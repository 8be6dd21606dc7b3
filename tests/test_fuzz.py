"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis): never a 5xx."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

import rag  # noqa: E402
from rag.server import create_app  # noqa: E402
from rag.settings import Settings  # noqa: E402

app = create_app(Settings(), engine=rag.load())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
