"""Schemathesis over every operation of /api/schema/, in-process through the WSGI app (issue 10,
items 15 and 33).

Bounded and derandomized so CI (SQLite and PostgreSQL) sends the same requests every run:
schema-valid and schema-invalid requests, to random and to existing objects, as an
administrator and as a team lead (both may write). None may answer 500, and every answer must
be documented: its status code, its content type and its body."""

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from portal.demo import load_demo_portfolio
from portal.models import TokenScope
from portal.services import api_token_create

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# ~200 operations; this bound keeps the run at about two minutes on a CI core. Raise it locally
# (PROPYLON_FUZZ_EXAMPLES=50) to search harder; PROPYLON_FUZZ_ONLY=/api/teams/ narrows the run.
MAX_EXAMPLES = int(os.environ.get("PROPYLON_FUZZ_EXAMPLES", "6"))
ONLY = os.environ.get("PROPYLON_FUZZ_ONLY", "")


@pytest.fixture
def wsgi_app():
    # As Django's test client does: a request must not close the connection holding the test's
    # transaction (on PostgreSQL it would, at the start and at the end of every request).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _token(user) -> dict:
    _, key = api_token_create(user=user, name="fuzz", scopes=[TokenScope.READ, TokenScope.WRITE])
    return {"Authorization": f"Token {key}"}


def _existing_path_parameters(app, operation, headers: dict) -> dict:
    """Path parameters naming a demo object, read from the list the path starts with
    (/api/use-cases/{key}/submit/ -> the first key of /api/use-cases/). Not for DELETE: the
    run would delete the demo objects the later operations need."""
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or operation.method.upper() == "DELETE":
        return {}
    # Through the same WSGI app: Django's test Client would reconnect close_old_connections.
    listing = Client(app).get(operation.path.split("{")[0], query_string={"page_size": 1}, headers=headers)
    if listing.status_code != 200 or not listing.json.get("results"):
        return {}
    first = listing.json["results"][0]
    if not all(name in first for name in names):
        return {}
    return {name: first[name] for name in names}


def test_no_api_request_is_a_server_error_or_undocumented(wsgi_app):
    people = load_demo_portfolio()
    writers = [_token(people["admin"]), _token(people["lead"])]
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=writers[0])
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if ONLY and not operation.path.startswith(ONLY):
            continue
        operations += 1

        strategies = [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        ]
        if existing := _existing_path_parameters(wsgi_app, operation, writers[0]):
            # Random keys are all 404s: also send random bodies to objects that exist.
            strategies.append(operation.as_strategy(path_parameters=existing))
        cases = st.one_of(strategies)

        @given(case=cases, headers=st.sampled_from(writers))
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            # Report the first failing request as found; shrinking would multiply the run time.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case, headers):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{operation.label}: {failure}")
    assert operations > (0 if ONLY else 150)
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
