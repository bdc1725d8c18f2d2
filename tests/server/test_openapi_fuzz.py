"""Schemathesis over the server's own OpenAPI document, against a real server with an admin token:
no answer is a 5xx, and every answer matches the document (its status code, its schema).

Three passes: every operation with generated values everywhere (ids are random, so mostly 404s, and
text may hold NUL characters, which the edge refuses); every operation with invalid input (wrong
types, out of range), which must be a 4xx problem; then every operation that takes an id with
the ids of real rows made first (an agent, a script, a workflow with a webhook, a run, a job, a
schedule, a user), so the answers about existing things are checked against their schemas too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from tests.conftest import running_server

EXAMPLES_PER_OPERATION = 16
NEGATIVE_EXAMPLES = 8  # invalid input, which must be a 4xx problem (the document's `default`)
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Not fuzzed, each for its reason (the agent gateway's WebSocket is not in the document at all):
SKIPPED = {
    # Server-sent event streams: for an existing job or run they stream until it ends, which a fuzzer
    # cannot wait on; their 404s for unknown ids are covered by tests/server/test_jobs_api.py and
    # tests/server/test_workflows.py.
    "GET /api/v1/jobs/{job_id}/events": "SSE stream",
    "GET /api/v1/runs/{run_id}/events": "SSE stream",
    # The operators' stream never ends while the session lives; tests/server/test_console_events.py.
    "GET /api/v1/events": "SSE stream",
    # A wheel upload is a raw body the document describes as no JSON; test_agent_versions.py covers it.
    "POST /api/v1/agent-versions": "raw wheel upload",
}


def seed(client: httpx.Client) -> dict[str, str]:
    """Real rows for the second pass, by the name of the path parameter that takes their id."""

    def made(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    code = made(client.post("/api/v1/enrollments", json={"uses": 1}))["install_code"]
    enrolled = {
        "secret": InstallCode.decode(code).secret,
        "public_key": keys.public_b64(keys.generate()),
        "hostname": "fuzz-host",
        "facts": {"os": "linux"},
    }
    agent_id = made(client.post("/api/v1/enroll", json=enrolled))["agent_id"]
    script = {"name": "fuzz", "language": "sh", "body": "echo hi", "parameters": {}}
    script_id = made(client.post("/api/v1/scripts", json=script))["id"]
    document = {
        "nodes": [{"id": "hook", "type": "trigger.webhook", "params": {}}],
        "edges": [],
    }
    workflow_id = made(client.post("/api/v1/workflows", json={"name": "fuzz", "document": document}))["id"]
    run_id = made(client.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"a": 1}}))["id"]
    job = {"role": "script", "params": {"language": "sh", "script": "true"}, "target": {"agents": [agent_id]}}
    job_id = made(client.post("/api/v1/jobs", json=job))["id"]
    schedule = {
        "name": "fuzz",
        "interval_s": 3600,
        "action": {"type": "workflow", "workflow_id": workflow_id, "input": {}},
    }
    schedule_id = made(client.post("/api/v1/schedules", json=schedule))["id"]
    user = {"username": "fuzz-user", "role": "viewer", "password": "a long password 1"}
    user_id = made(client.post("/api/v1/users", json=user))["id"]
    return {
        "agent_id": agent_id,
        "script_id": script_id,
        "workflow_id": workflow_id,
        "run_id": run_id,
        "job_id": job_id,
        "schedule_id": schedule_id,
        "user_id": user_id,
        "node_id": "hook",
        "section": "system",
    }


def fuzz(
    operation: schemathesis.APIOperation,
    strategy: Any,
    call: Callable[[Any], None],
    examples: int = EXAMPLES_PER_OPERATION,
) -> str | None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def check(case: Any) -> None:
        call(case)

    try:
        check()
    except Unsatisfiable:
        return None  # no invalid form exists (a free-text path parameter and nothing else)
    except Exception as failure:
        return f"{operation.label}: {failure}"[:3000]
    return None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_no_operation_answers_a_5xx_or_outside_its_schema(tmp_path: Path, db_url: str) -> None:
    with running_server(tmp_path / "home", db_url) as server:
        headers = {"Authorization": f"Bearer {server.token}"}

        def call(case: Any) -> None:
            case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)

        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            ids = seed(client)
        schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        operations = [operation for operation in operations if operation.label not in SKIPPED]
        assert len(operations) >= 60, f"only {len(operations)} operations in the document"
        failures = [fuzz(operation, operation.as_strategy(), call) for operation in operations]
        for operation in operations:
            invalid = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            failures.append(fuzz(operation, invalid, call, NEGATIVE_EXAMPLES))

        deletions_last = sorted(operations, key=lambda operation: operation.method.upper() == "DELETE")
        for operation in deletions_last:
            names = {parameter.name for parameter in operation.path_parameters}
            if names and names <= set(ids):
                known = {name: ids[name] for name in names}
                failures.append(fuzz(operation, operation.as_strategy(path_parameters=known), call))
        found = [failure for failure in failures if failure]
        assert not found, "\n\n".join(found)
