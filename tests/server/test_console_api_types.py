"""The console's committed API types (web/src/api/schema.d.ts) match the server's OpenAPI document now."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from borealis.server.openapi_dump import main as dump

WEB = Path(__file__).resolve().parents[2] / "web"


def test_openapi_dump_writes_the_document_without_a_server(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert dump([str(target)]) == 0
    document = orjson.loads(target.read_bytes())
    assert "/api/v1/events" in document["paths"]
    assert "/api/v1/agents/{agent_id}/metrics" in document["paths"]
    assert document["components"]["schemas"]["AgentMetrics"]["required"] == ["agent_id", "every_s", "samples"]


@pytest.mark.skipif(
    shutil.which("node") is None or not (WEB / "node_modules" / ".bin" / "openapi-typescript").exists(),
    reason="Node.js or the console's node_modules (npm ci in web/) is missing",
)
def test_committed_api_types_are_current() -> None:
    result = subprocess.run(
        ["node", "scripts/gen-api.mjs", "--check"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BOREALIS_PYTHON_BIN": sys.executable},
    )
    assert result.returncode == 0, result.stderr + result.stdout
