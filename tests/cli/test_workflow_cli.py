"""`borealis workflow import|export|run` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent.agent_process import borealis
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

DOCUMENT = {
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "hello", "type": "data.set", "params": {"values": {"greeting": "hello {{ json.name }}"}}},
    ],
    "edges": [{"source": "start", "target": "hello"}],
}


def cli(server: ServerProcess, *args: str) -> tuple[int, str, str]:
    done = borealis("workflow", *args, "--server", server.url, "--token", server.token)
    return done.returncode, done.stdout, done.stderr


def test_import_export_and_run_round_trip(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "greet.json"
    source.write_text(json.dumps(DOCUMENT))
    code, out, err = cli(server, "import", str(source))
    assert code == 0, err
    workflow_id = out.strip()

    exported = tmp_path / "out.json"
    code, _, err = cli(server, "export", workflow_id, "--output", str(exported))
    assert code == 0, err
    data = json.loads(exported.read_text())
    assert data["name"] == "greet" and data["document"] == DOCUMENT and data["version"] == 1

    code, out, err = cli(server, "import", str(exported), "--replace", workflow_id)
    assert code == 0 and out.strip() == workflow_id, err
    code, out, _ = cli(server, "export", workflow_id)
    assert json.loads(out)["version"] == 2

    code, out, err = cli(server, "run", workflow_id, "--input", '{"name": "ada"}', "--wait", "20")
    assert code == 0, err
    run = json.loads(out)
    assert run["status"] == "succeeded" and run["output"][0]["json"]["greeting"] == "hello ada"


def test_bad_files_documents_and_tokens_get_one_line_errors(server: ServerProcess, tmp_path: Path) -> None:
    code, _, err = cli(server, "import", str(tmp_path / "missing.json"))
    assert code == 2 and err.startswith("borealis: error: cannot read") and err.count("\n") == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = cli(server, "import", str(broken))
    assert code == 2 and "is not JSON" in err
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"nodes": [{"id": "a", "type": "nope"}]}))
    code, _, err = cli(server, "import", str(invalid))
    assert code == 1 and "node 'a'" in err and "unknown node type" in err and err.count("\n") == 1
    done = borealis("workflow", "run", "x", "--server", server.url, "--token", "wrong")
    assert done.returncode == 4 and "401" in done.stderr  # a refused token: exit code 4 (docs/cli.md)
