"""Small pieces the route modules share, including one principal type per scope.

A route states what it needs by the type of its principal parameter, e.g. `who: AgentsRead`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from borealis.server.api.guard import RequireScope
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]

AgentsRead = Annotated[Principal, Depends(RequireScope(Scope.AGENTS_READ))]
AgentsWrite = Annotated[Principal, Depends(RequireScope(Scope.AGENTS_WRITE))]
EnrollmentsRead = Annotated[Principal, Depends(RequireScope(Scope.ENROLLMENTS_READ))]
EnrollmentsWrite = Annotated[Principal, Depends(RequireScope(Scope.ENROLLMENTS_WRITE))]
UsersRead = Annotated[Principal, Depends(RequireScope(Scope.USERS_READ))]
UsersWrite = Annotated[Principal, Depends(RequireScope(Scope.USERS_WRITE))]
TokensWrite = Annotated[Principal, Depends(RequireScope(Scope.TOKENS_WRITE))]
AuditRead = Annotated[Principal, Depends(RequireScope(Scope.AUDIT_READ))]
JobsRead = Annotated[Principal, Depends(RequireScope(Scope.JOBS_READ))]
JobsRun = Annotated[Principal, Depends(RequireScope(Scope.JOBS_RUN))]
InventoryRead = Annotated[Principal, Depends(RequireScope(Scope.INVENTORY_READ))]
ScriptsRead = Annotated[Principal, Depends(RequireScope(Scope.SCRIPTS_READ))]
ScriptsWrite = Annotated[Principal, Depends(RequireScope(Scope.SCRIPTS_WRITE))]
SchedulesRead = Annotated[Principal, Depends(RequireScope(Scope.SCHEDULES_READ))]
SchedulesWrite = Annotated[Principal, Depends(RequireScope(Scope.SCHEDULES_WRITE))]
MetricsRead = Annotated[Principal, Depends(RequireScope(Scope.METRICS_READ))]
WorkflowsRead = Annotated[Principal, Depends(RequireScope(Scope.WORKFLOWS_READ))]
WorkflowsWrite = Annotated[Principal, Depends(RequireScope(Scope.WORKFLOWS_WRITE))]
DesktopView = Annotated[Principal, Depends(RequireScope(Scope.DESKTOP_VIEW))]
DesktopControl = Annotated[Principal, Depends(RequireScope(Scope.DESKTOP_CONTROL))]


# Responses that are not JSON objects declare their media type, so the OpenAPI document stays complete.
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "server-sent events (`event:` and `data:` lines, JSON data), until the end",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
JSON_PAYLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the stored JSON payload, as it was recorded",
        "content": {"application/json": {"schema": {}}},
    }
}


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
