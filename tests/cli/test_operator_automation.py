"""`borealis workflows`, `workflow run --follow`, `schedules` and `schedule preview` against a real
server, through a login profile (not the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.operator import borealis_cli
from tests.cli.test_workflow_cli import DOCUMENT
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow


def test_workflows_runs_followed_and_schedules(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert borealis_cli("login", server.url, "--token-stdin", config=config, stdin=server.token).code == 0
    with server.api as api:
        made = api.post("/api/v1/workflows", json={"name": "greet", "document": DOCUMENT})
        made.raise_for_status()
        workflow_id = made.json()["id"]
        schedule = api.post(
            "/api/v1/schedules",
            json={
                "name": "hourly greet",
                "cron": "0 * * * *",
                "timezone": "Europe/Berlin",
                "action": {"type": "workflow", "workflow_id": workflow_id},
            },
        )
        schedule.raise_for_status()
    listed = borealis_cli("workflows", config=config)
    assert listed.code == 0 and workflow_id in listed.out and "greet" in listed.out, listed.err
    as_json = borealis_cli("workflows", "--json", config=config).json()
    assert as_json[0]["id"] == workflow_id and as_json[0]["name"] == "greet"

    followed = borealis_cli(
        "workflow", "run", workflow_id, "--input", '{"name": "ada"}', "--follow", config=config
    )
    assert followed.code == 0, followed.err
    assert "start [trigger.manual]: succeeded" in followed.out
    assert "hello [data.set]: succeeded" in followed.out
    assert "succeeded" in followed.err.splitlines()[-1]

    schedules = borealis_cli("schedules", config=config)
    assert schedules.code == 0 and "hourly greet" in schedules.out and "0 * * * *" in schedules.out
    schedule_id = schedule.json()["id"]
    preview = borealis_cli("schedule", "preview", schedule_id, "--count", "3", "--json", config=config).json()
    assert len(preview["items"]) == 3 and all(item["at"].endswith(":00:00Z") for item in preview["items"])
    table = borealis_cli("schedule", "preview", schedule_id, "--count", "2", config=config)
    assert table.code == 0 and len(table.out.splitlines()) == 3 and "+01:00" in table.out
    missing = borealis_cli("schedule", "preview", "999999", config=config)
    assert missing.code == 1 and missing.err.startswith("borealis: error: not found")
