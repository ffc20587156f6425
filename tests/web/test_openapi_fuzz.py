"""schemathesis against /openapi.json: no 5xx, statuses and bodies as documented. Bounded and deterministic:
a few derandomized examples per operation, signed in as the admin (so requests reach the services)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import WebStack

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("web", ["sqlite"], indirect=True)]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6
SEEN: list[int] = []


def test_api_conforms_to_its_schema(web: WebStack) -> None:
    schema = schemathesis.openapi.from_url(f"{web.url}/openapi.json")
    headers = web.token("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            r = case.call_and_validate(headers=headers, checks=CHECKS)
            SEEN.append(r.status_code)

        try:
            run()
        except Exception as e:  # collect every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)
    print(f"schemathesis: {len(SEEN)} calls over {len(operations)} operations, statuses {sorted(set(SEEN))}")
