"""Serves the built console (a single-page app) at `/`: hashed assets with a year-long cache, `index.html`
for the app's client routes, strict security headers; a short page saying how to build it when absent."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from borealis.server.problems import problem

DIST = Path(__file__).parent / "console_dist"
NOT_CONSOLE = ("/api/", "/hooks/", "/healthz", "/readyz", "/metrics")
IMMUTABLE = "public, max-age=31536000, immutable"
# Mantine writes its theme variables into <style> elements at run time, so styles need 'unsafe-inline';
# scripts do not: the app has no inline script and none may run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Borealis</title></head>
<body><h1>Borealis</h1>
<p>The console is not built in this installation. From a source checkout with Node.js 20+:
<code>./Borealis.sh demo</code> builds it, or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p></body></html>
"""


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _asset(dist: Path, path: str) -> Path | None:
    """The file under `dist` that `path` names, refusing anything that leaves it."""
    if not path or path.endswith("/"):
        return None
    candidate = (dist / path).resolve()
    if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
        return None
    return candidate


def _wants_html(request: Request) -> bool:
    return request.url.path == "/" or "text/html" in request.headers.get("accept", "")


class ConsoleRoute(Route):
    """Matches GET and HEAD only, and not even partially otherwise, so a wrong method on an API route
    stays 405 and an unknown API path stays 404."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
            return Match.NONE, {}
        return super().matches(scope)


def console_endpoint(dist: Path) -> Route:
    async def serve(request: Request) -> Response:
        path = request.url.path
        if path.startswith(NOT_CONSOLE):
            return problem(404, "Not Found", "Not Found", "not-found", request)
        index = dist / "index.html"
        if not index.is_file():
            if _wants_html(request):
                return _secured(HTMLResponse(NOT_BUILT, headers={"Cache-Control": "no-cache"}))
            return problem(404, "Not Found", "the console is not built", "not-found", request)
        found = _asset(dist, path.lstrip("/"))
        if found is not None and found.name != "index.html":
            hashed = path.startswith("/assets/")
            cache = IMMUTABLE if hashed else "public, max-age=3600"
            return _secured(FileResponse(found, headers={"Cache-Control": cache}))
        if path.startswith("/assets/") or not _wants_html(request):
            return problem(404, "Not Found", "Not Found", "not-found", request)
        return _secured(FileResponse(index, headers={"Cache-Control": "no-cache"}, media_type="text/html"))

    return ConsoleRoute("/{path:path}", serve, methods=["GET", "HEAD"], include_in_schema=False)


def console_built(dist: Path = DIST) -> bool:
    return (dist / "index.html").is_file()


def install_console(app: FastAPI, dist: Path = DIST) -> None:
    """Add the console's catch-all route; call it after every other route so theirs match first."""
    app.router.routes.append(console_endpoint(dist))
