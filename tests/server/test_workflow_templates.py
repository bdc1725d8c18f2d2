"""The console's shipped workflow templates are documents the server accepts as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import App

TEMPLATES = sorted(
    (Path(__file__).resolve().parents[2] / "web" / "src" / "canvas" / "templates").glob("*.json")
)


def test_three_templates_are_shipped() -> None:
    assert len(TEMPLATES) == 3


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
async def test_each_template_saves_as_it_is(app: App, path: Path) -> None:
    data = json.loads(path.read_text())
    assert data["borealis_workflow"] == 1
    response = await app.client.post(
        "/api/v1/workflows",
        json={"name": data["name"], "description": data["description"], "document": data["document"]},
        headers=app.auth(),
    )
    assert response.status_code == 201, response.text
