"""End to end: a workflow captures a region of a real Xvfb screen through a real agent and its helper,
thresholds and reads it (Tesseract), extracts the percentage, and notifies a webhook when it is over 90."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.desktop import grab_directly, message_window, xvfb
from tests.agent.test_agent_online import online_agent
from tests.agent.test_workflow_e2e import FINAL, Sink, run_of, sink  # noqa: F401  (sink is a fixture)
from tests.conftest import ServerProcess, running_server
from tests.support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def wf_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "wf-server", db_url, workflow_http_allow=["127.0.0.0/8"]) as process:
        yield process


def document(agent_id: str, url: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "shot",
                "type": "agents.screenshot",
                "params": {
                    "target": {"agents": [agent_id]},
                    "region": {"x": 40, "y": 40, "width": 125, "height": 30},
                    "fail_on_error": True,
                },
            },
            {"id": "bigger", "type": "image.resize", "params": {"scale": 3}},
            {"id": "bw", "type": "image.threshold", "params": {"level": 128}},
            {"id": "read", "type": "image.ocr", "params": {"language": "eng"}},
            {
                "id": "percent",
                "type": "data.regex",
                "params": {
                    "mode": "extract",
                    "text": "{{ json.ocr.text }}",
                    "pattern": "(\\d+)\\s*%",
                    "into": "pct",
                },
            },
            {
                "id": "full",
                "type": "logic.condition",
                "params": {"condition": "to_number(json.pct[0]) > `90`"},
            },
            {
                "id": "notify",
                "type": "notify.webhook",
                "params": {
                    "url": f"{url}/alert",
                    "body": {"agent": "{{ json.agent_id }}", "percent": "{{ json.pct[0] }}"},
                },
            },
        ],
        "edges": [
            {"source": "start", "target": "shot"},
            {"source": "shot", "target": "bigger"},
            {"source": "bigger", "target": "bw"},
            {"source": "bw", "target": "read"},
            {"source": "read", "target": "percent"},
            {"source": "percent", "target": "full"},
            {"source": "full", "source_port": "true", "target": "notify"},
        ],
    }


def test_screenshot_region_threshold_ocr_regex_condition_notify_reads_93(
    wf_server: ServerProcess,
    agents: Callable[..., AgentProcess],
    test_user: str,
    sink: tuple[str, type[Sink]],  # noqa: F811
) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract-ocr is not installed (.ci/run installs it)")
    url, handler = sink
    with xvfb() as display, message_window(display, "DISK 93% FULL"):
        wait_for(lambda: any(grab_directly(display)[2]), 10, what="the window on the display")
        agent = online_agent(wf_server, agents, helper_user=test_user, helper_display=display)
        with wf_server.api as api:
            created = api.post(
                "/api/v1/workflows", json={"name": "disk", "document": document(agent.agent_id, url)}
            )
            assert created.status_code == 201, created.text
            started = api.post(
                f"/api/v1/workflows/{created.json()['id']}/runs", json={"input": {"check": "disk"}}
            )
            assert started.status_code == 201, started.text
        run = wait_for(
            lambda: (r := run_of(wf_server, started.json()["id"]))["status"] in FINAL and r,
            90,
            what="the run",
        )
    records = {record["node_id"]: record for record in run["nodes"]}
    assert run["status"] == "succeeded", (
        run["error"],
        {k: (v["status"], v.get("error")) for k, v in records.items()},
    )
    (shot,) = records["shot"]["output"]["main"]
    assert shot["binary_ref"] == f"screenshots/{shot['json']['job_id']}/{agent.agent_id}.png"
    assert shot["json"]["image"]["width"] == 125 and shot["json"]["image"]["height"] == 30
    (read,) = records["read"]["output"]["main"]
    assert "93" in read["json"]["ocr"]["text"], read["json"]["ocr"]
    assert any(
        word["text"].startswith("93") and word["box"]["width"] > 0 for word in read["json"]["ocr"]["words"]
    )
    assert handler.received == [{"agent": agent.agent_id, "percent": "93"}]

    # The image a node made is an image the API can serve: the item carries it by reference only.
    (bw,) = records["bw"]["output"]["main"]
    assert bw["binary_ref"].startswith(f"screenshots/run-{run['id']}/bw-0") and "image" in bw["json"]
