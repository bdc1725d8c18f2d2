"""The API docs page loads nothing from outside: its script and stylesheet come from the server
itself (the package ships them), a CSP forbids other origins, and server.toml can turn it off."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from borealis.server.app import create_app
from tests.conftest import App, make_settings


async def test_the_docs_page_and_everything_it_loads_come_from_the_server(app: App) -> None:
    page = await app.client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.text
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "http" not in csp
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(loaded) == 3, loaded
    for url in loaded:
        assert url.startswith("/api/v1/docs/assets/"), url
        asset = await app.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500
    script = await app.client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content
    assert (await app.client.get("/api/v1/openapi.json")).status_code == 200
    # Only the page's own files are served, nothing else from the package's folder.
    for other in ("index.html", "swagger-ui.js.map", "..%2F__init__.py", "oauth2-redirect.html"):
        assert (await app.client.get(f"/api/v1/docs/assets/{other}")).status_code == 404, other


async def test_the_docs_page_can_be_turned_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", "", api_docs=False)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/api/v1/docs")).status_code == 404
            assert (await client.get("/api/v1/docs/assets/swagger-ui-bundle.js")).status_code == 404
            assert (await client.get("/api/v1/openapi.json")).status_code == 200
