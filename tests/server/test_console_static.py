"""The built console served at `/`: hashed assets cached for a year, `index.html` for client routes,
strict security headers, problem+json for the API's unknown paths, and a how-to page when not built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from borealis.server.console import CSP, install_console
from borealis.server.problems import install as install_problems
from tests.conftest import App

INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head></html>'
)


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "console_dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('borealis')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    return dist


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problems(app)

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    install_console(app, _dist(tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_index_for_client_routes_with_security_headers(console: httpx.AsyncClient) -> None:
    for path in ("/", "/fleet", "/devices/abc", "/settings/tokens", "/no/such/page"):
        response = await console.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["content-security-policy"] == CSP
        assert "script-src 'self';" in CSP and "frame-ancestors 'none'" in CSP and "unsafe-eval" not in CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert (await console.get("/")).status_code == 200  # `/` even without an Accept header


async def test_hashed_assets_are_immutable_and_others_short(console: httpx.AsyncClient) -> None:
    asset = await console.get("/assets/index-abc123.js")
    assert asset.status_code == 200 and "borealis" in asset.text
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    icon = await console.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["cache-control"] == "public, max-age=3600"


async def test_missing_files_and_api_paths_are_problems_not_the_app(console: httpx.AsyncClient) -> None:
    for path, headers in (
        ("/assets/gone-123.js", HTML),
        ("/api/v1/nothing", HTML),
        ("/hooks/nothing", HTML),
        ("/metrics", HTML),
        ("/fleet", {"Accept": "application/json"}),
        ("/../secret.txt", HTML),
        ("/assets/../../secret.txt", {}),
    ):
        response = await console.get(path, headers=headers)
        assert response.status_code in (200, 404), path
        assert "outside" not in response.text, path
        if response.status_code == 200:  # a normalized path that is a client route
            assert response.text == INDEX
        else:
            assert response.headers["content-type"].startswith("application/problem+json"), path
    posted = await console.post("/fleet", headers=HTML)
    assert posted.status_code == 404 and posted.headers["content-type"].startswith("application/problem+json")
    assert (await console.get("/api/v1/ping")).json() == {"pong": "yes"}


async def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    app = FastAPI()
    install_problems(app)
    install_console(app, tmp_path / "not-built")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        root = await client.get("/")
        assert root.status_code == 200 and "npm run build" in root.text and "<script" not in root.text
        assert root.headers["content-security-policy"] == CSP
        assert (await client.get("/fleet", headers=HTML)).status_code == 200
        asset = await client.get("/assets/x.js")
        assert asset.status_code == 404


async def test_the_real_app_keeps_api_problems_and_serves_the_console(app: App) -> None:
    unknown = await app.client.get("/api/v1/no-such-route", headers=app.auth())
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(
        "application/problem+json"
    )
    posted = await app.client.post("/api/v1/no-such-route", headers=app.auth())
    assert posted.status_code == 404
    root = await app.client.get("/", headers=HTML)
    assert root.status_code == 200 and root.headers["content-security-policy"] == CSP
    assert (await app.client.get("/healthz")).status_code == 200
