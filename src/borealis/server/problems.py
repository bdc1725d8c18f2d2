"""The one place errors become HTTP responses: RFC 9457 problem+json, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from borealis.core.errors import BorealisError

log = logging.getLogger("borealis.server.problems")
PROBLEM_TYPE = "https://borealis.dev/problems/"


def problem(
    status: int, title: str, detail: str, slug: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if request is not None:
        state = getattr(request.app.state, "borealis", None)
        if state is not None:
            state.metrics.http_errors[status] += 1
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def _borealis_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BorealisError)
    extra = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool | list)}
    return problem(exc.status, exc.title, exc.detail, exc.slug, request, **extra)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _location(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid request", detail, "invalid-request", request, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, str(exc.detail), str(exc.detail), slug, request)


async def _database_error(request: Request, exc: Exception) -> Response:
    """PostgreSQL refuses some text SQLite stores (a NUL character, a value longer than its column):
    SQLSTATE class 22, a data exception. That is bad input, not a server failure."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if sqlstate.startswith("22"):
        detail = "a value is too long or holds characters the database cannot store (such as NUL)"
        return problem(400, "Invalid input", detail, "invalid-input", request)
    if "database is locked" in str(exc.orig):  # SQLite's busy timeout ran out under load
        return await _database_busy(request, exc)
    return await _unexpected(request, exc)


async def _database_busy(request: Request, exc: Exception) -> Response:
    """Every pooled connection stayed busy past the pool's timeout: the server is overloaded for now,
    which the client may retry; it is not a failure of the request."""
    log.warning("database busy", extra={"kv": {"path": request.url.path, "error": type(exc).__name__}})
    detail = "the database is busy; try again in a few seconds"
    return problem(503, "Temporarily unavailable", detail, "unavailable", request)


async def _stale_row(request: Request, exc: Exception) -> Response:
    """Two requests raced on one row and the other one deleted it first."""
    detail = "it was changed or deleted by another request meanwhile; load it again"
    return problem(409, "Conflict", detail, "conflict", request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc, extra={"kv": {"path": request.url.path}})
    return problem(500, "Internal error", "the server failed; the error is in its log", "internal", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(BorealisError, _borealis_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(StaleDataError, _stale_row)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(Exception, _unexpected)
