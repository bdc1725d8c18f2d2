"""The interactive API page at /api/v1/docs, served whole from this installation.

Swagger UI's script and stylesheet come from the `swagger-ui-bundle-v2` package, served under
/api/v1/docs/assets/ (only the three files the page needs), so the page works on a machine with no
way out, and a Content-Security-Policy keeps the browser from loading anything from elsewhere.
`api_docs = false` in server.toml turns the page off (the OpenAPI document stays).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'"
)


def install_docs(app: FastAPI, openapi_url: str) -> None:
    async def page(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )
        html.headers["Content-Security-Policy"] = CSP
        return html

    async def asset(request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response(status_code=404)
        path = Path(str(swagger_ui_path)) / name
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    app.router.routes.append(Route(DOCS_PATH, page, methods=["GET"], include_in_schema=False))
    app.router.routes.append(Route(ASSETS_PATH + "/{name}", asset, methods=["GET"], include_in_schema=False))
