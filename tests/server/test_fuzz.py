"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis): no
500, and no response that breaks the schema, content type or status codes it declares.
Valid requests, invalid ones (which must be refused with a 4xx) and requests without the
token (401), on SQLite and on PostgreSQL. Runs against the app served by uvicorn, with the
Ollama double as its backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import AUTH, TOKEN

CASES_PER_OPERATION = 25  # ten operations: a few hundred cases per run


@pytest.fixture
def api_schema(
    double: OllamaDouble, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    settings_ = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=tmp_path_factory.mktemp("fuzz"),
        database_url=database_url,
        rate_limit="off",
        max_body_bytes=8 * 1024 * 1024,  # generated bodies stay below it: no 413 in the way
    )
    # A request valid by the schema may still be refused by the model: its prompt longer than
    # the model's window (422 context_overflow; 400 context_length_exceeded on /v1), or an
    # option the runner refuses (400). Every other refusal of valid data is a failure.
    accepted = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": accepted}}}
    )
    for url in serve_in_thread(create_app(settings_)):
        yield schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)


@pytest.mark.parametrize(
    ("mode", "headers"),
    [
        (GenerationMode.POSITIVE, AUTH),
        (GenerationMode.NEGATIVE, AUTH),
        (GenerationMode.POSITIVE, {}),
    ],
    ids=["valid", "invalid", "no-token"],
)
def test_api_never_fails_its_own_contract(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode, headers: dict[str, str]
) -> None:
    # One hypothesis run per operation, driven here rather than by schemathesis' pytest
    # plugin, which does not support this pytest version.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    ran = 0
    statuses: set[int] = set()
    lenient = [negative_data_rejection] if mode is GenerationMode.NEGATIVE else []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal ran
            ran += 1
            # Invalid requests must not fail the server nor break the response contract;
            # that each one is refused is not checked: the server is lenient where pydantic
            # coerces (``true`` for an integer), and a huge body is refused with 413.
            response = case.call_and_validate(headers=headers, excluded_checks=lenient)
            statuses.add(response.status_code)

        try:
            check()
        except Unsatisfiable:  # an operation with nothing to get wrong (GET /health)
            assert mode is GenerationMode.NEGATIVE
    assert ran >= 100
    if not headers:  # without the token only the open routes answer anything but 401
        assert 401 in statuses
    if mode is GenerationMode.NEGATIVE:
        assert statuses & {400, 404, 422}
