"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis):
no 500, and no response that breaks the schema, content type or status codes it declares.
Runs against the app served by uvicorn, with the Ollama double as its backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import AUTH, TOKEN

CASES_PER_OPERATION = 40  # ten operations: a few hundred cases


@pytest.fixture(scope="module")
def api_schema(
    double: OllamaDouble, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=data,
        rate_limit="off",
        max_body_bytes=64 * 1024,
    )
    for url in serve_in_thread(create_app(settings_)):
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def test_api_never_fails_its_own_contract(api_schema: schemathesis.BaseSchema) -> None:
    # One hypothesis run per operation, driven here rather than by schemathesis' pytest
    # plugin, which does not support this pytest version.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    ran = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal ran
            ran += 1
            case.call_and_validate(headers=AUTH)

        check()
    assert ran >= 200
