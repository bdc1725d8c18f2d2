"""The OpenAPI document is complete: every success answer has a schema clients can be generated from,
errors are the problem bodies the server really sends, and FastAPI's unused 422 shape is gone."""

from __future__ import annotations

from typing import Any

from tests.conftest import App

# 2xx JSON answers that are free-form by nature, each with its reason.
FREE_FORM = {
    # A node's input or output kept as a blob: whatever JSON the workflow produced.
    ("get", "/api/v1/runs/{run_id}/payloads/{name}"),
}


async def document(app: App) -> dict[str, Any]:
    response = await app.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


async def test_no_success_answer_is_untyped(app: App) -> None:
    doc = await document(app)
    untyped = []
    for method, path, op in operations(doc):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for code, response in successes.items():
            if code == "204":
                assert not response.get("content"), (method, path)
                continue
            content = response.get("content", {})
            assert content, f"{method} {path} {code} declares no media type"
            for media_type, body in content.items():
                schema = body.get("schema", {})
                if "json" not in media_type:
                    assert schema.get("type") == "string", (method, path, media_type)
                    continue
                if (method, path) in FREE_FORM:
                    continue
                if "$ref" not in schema and "properties" not in schema:
                    untyped.append(f"{method.upper()} {path} {code}")
    assert not untyped, untyped
    assert len(operations(doc)) >= 80


async def test_errors_are_problem_bodies_and_the_unused_422_shape_is_gone(app: App) -> None:
    doc = await document(app)
    for method, path, op in operations(doc):
        default = op["responses"]["default"]["content"]
        assert list(default) == ["application/problem+json"], (method, path)
        assert default["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
        assert "422" not in op["responses"], (method, path)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])


async def test_lists_timestamps_and_enums_are_precise(app: App) -> None:
    doc = await document(app)
    fleet = doc["paths"]["/api/v1/agents"]["get"]["responses"]["200"]["content"]["application/json"]
    page = resolve(doc, fleet["schema"])
    assert set(page["required"]) == {"items", "next_cursor"}
    agent = resolve(doc, page["properties"]["items"]["items"])
    assert {"id", "hostname", "status", "last_seen", "os", "tags", "version"} <= set(agent["required"])
    assert resolve(doc, agent["properties"]["status"])["enum"] == [
        "online",
        "offline",
        "overdue",
        "pending",
        "revoked",
    ]
    assert agent["properties"]["enrolled_at"] == {
        "type": "string",
        "format": "date-time",
        "title": "Enrolled At",
    }
    nullable = agent["properties"]["last_seen"]["anyOf"]
    assert {"type": "string", "format": "date-time"} in nullable and {"type": "null"} in nullable
    job = doc["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    results = resolve(doc, job["schema"])["properties"]["results"]["items"]
    assert "timed_out" in resolve(doc, resolve(doc, results)["properties"]["status"])["enum"]


def test_the_count_models_name_every_state() -> None:
    """A state added to JobState or UpdateState needs its count field, or the answer would drop it."""
    from borealis.protocol.agent_updates import UpdateState
    from borealis.protocol.jobs import JobState
    from borealis.server.api.schemas.distribution import RolloutCounts
    from borealis.server.api.schemas.jobs import JobCounts

    assert list(JobCounts.model_fields) == [state.value for state in JobState]
    assert list(RolloutCounts.model_fields) == [state.value for state in UpdateState]
