"""Scopes a token or a role grants, and what each role of a user implies."""

from __future__ import annotations

from enum import StrEnum

from borealis.core.errors import InvalidInput


class Scope(StrEnum):
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    AGENTS_UPDATE = "agents:update"  # upload agent versions and roll them out: admins only by default
    ENROLLMENTS_READ = "enrollments:read"
    ENROLLMENTS_WRITE = "enrollments:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TOKENS_WRITE = "tokens:write"
    AUDIT_READ = "audit:read"
    METRICS_READ = "metrics:read"
    JOBS_READ = "jobs:read"
    JOBS_RUN = "jobs:run"
    INVENTORY_READ = "inventory:read"
    SCRIPTS_READ = "scripts:read"
    SCRIPTS_WRITE = "scripts:write"
    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_WRITE = "workflows:write"
    SCHEDULES_READ = "schedules:read"
    SCHEDULES_WRITE = "schedules:write"
    DESKTOP_VIEW = "desktop:view"  # see agents' screens: screenshot images, live view
    DESKTOP_CONTROL = "desktop:control"  # drive agents' mouse and keyboard (where their policy allows)
    ADMIN = "admin"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset({Scope.ADMIN}),
    Role.OPERATOR: frozenset(
        {
            Scope.AGENTS_READ,
            Scope.AGENTS_WRITE,
            Scope.ENROLLMENTS_READ,
            Scope.ENROLLMENTS_WRITE,
            Scope.TOKENS_WRITE,
            Scope.JOBS_READ,
            Scope.JOBS_RUN,
            Scope.INVENTORY_READ,
            Scope.SCRIPTS_READ,
            Scope.SCRIPTS_WRITE,
            Scope.WORKFLOWS_READ,
            Scope.WORKFLOWS_WRITE,
            Scope.SCHEDULES_READ,
            Scope.SCHEDULES_WRITE,
            Scope.METRICS_READ,
            Scope.DESKTOP_VIEW,
        }
    ),
    Role.VIEWER: frozenset(
        {
            Scope.AGENTS_READ,
            Scope.ENROLLMENTS_READ,
            Scope.JOBS_READ,
            Scope.INVENTORY_READ,
            Scope.SCRIPTS_READ,
            Scope.WORKFLOWS_READ,
            Scope.SCHEDULES_READ,
            Scope.METRICS_READ,
        }
    ),
}


def grants(held: frozenset[Scope], wanted: Scope) -> bool:
    return Scope.ADMIN in held or wanted in held


def parse_scopes(values: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    if not values:
        raise InvalidInput("at least one scope is required", field="scopes")
    try:
        return frozenset(Scope(value) for value in values)
    except ValueError as exc:
        known = ", ".join(s.value for s in Scope)
        raise InvalidInput(f"unknown scope in {list(values)}; known scopes: {known}", field="scopes") from exc


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {value!r}; use admin, operator or viewer", field="role") from exc
