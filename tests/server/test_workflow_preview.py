"""The canvas's expression preview: the engine's own evaluator on given data, read-only scope, bounded."""

from __future__ import annotations

from typing import Any

from tests.conftest import App, admin_token

DATA: dict[str, Any] = {
    "json": {"body": {"host": "web-1", "count": 3}},
    "items": [{"n": 1}, {"n": 2}],
    "nodes": {"fetch": {"output": [{"id": 7}]}},
    "run": {"id": "r1"},
}


async def preview(app: App, body: dict[str, Any], token: str | None = None) -> Any:
    return await app.client.post("/api/v1/workflow-expressions/preview", json=body, headers=app.auth(token))


async def test_templates_expressions_and_conditions_give_what_a_run_computes(app: App) -> None:
    whole = await preview(app, {"text": "{{ json.body.count }}", "data": DATA})
    assert whole.status_code == 200 and whole.json() == {"ok": True, "value": 3, "error": None}
    text = await preview(
        app, {"text": "host {{ json.body.host }} id {{ nodes.fetch.output[0].id }}", "data": DATA}
    )
    assert text.json()["value"] == "host web-1 id 7"
    bare = await preview(app, {"text": "length(items)", "mode": "expression", "data": DATA})
    assert bare.json()["value"] == 2
    cond = await preview(app, {"text": "json.body.count > `5`", "mode": "condition", "data": DATA})
    assert cond.json() == {"ok": True, "value": False, "error": None}


async def test_a_bad_expression_is_explained_and_nothing_but_data_is_read(app: App) -> None:
    bad = await preview(app, {"text": "{{ json.[ }}", "data": DATA})
    assert bad.status_code == 200
    assert bad.json()["ok"] is False and "not a valid expression" in bad.json()["error"]
    sneaky = await preview(app, {"text": "{{ __class__ }}", "data": DATA})
    assert sneaky.json() == {"ok": True, "value": None, "error": None}
    # Data that looks like a template is never evaluated again.
    nested = await preview(app, {"text": "{{ json.t }}", "data": {"json": {"t": "{{ run.id }}"}}})
    assert nested.json()["value"] == "{{ run.id }}"


async def test_bounds_scope_and_bad_input(app: App) -> None:
    too_long = await preview(app, {"text": "x" * 5000, "data": DATA})
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
    big = await preview(app, {"text": "{{ json }}", "data": {"json": {"blob": "y" * 300_000}}})
    assert big.status_code == 413
    assert (await preview(app, {"text": "a", "mode": "exec"})).status_code == 422
    no_token = await app.client.post("/api/v1/workflow-expressions/preview", json={"text": "a"})
    assert no_token.status_code == 401
    jobs_only = await admin_token(app.settings, ("jobs:read",), name="jobs")
    assert (await preview(app, {"text": "a"}, token=jobs_only)).status_code == 403
    reader = await admin_token(app.settings, ("workflows:read",), name="reader")
    assert (await preview(app, {"text": "{{ run.id }}", "data": DATA}, token=reader)).json()["value"] == "r1"
