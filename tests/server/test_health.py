"""Health (DESIGN §14), the OpenAPI document, and the schema the migrations build."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from borealis.server.db import migrate
from borealis.server.db.database import Database
from borealis.server.db.models import Base
from borealis.server.state import ServerState, app_state
from tests.conftest import App


def state_of(app: App) -> ServerState:
    return app_state(app.app)


async def test_healthz_and_readyz_need_no_token(app: App) -> None:
    health = await app.client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await app.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": migrate.head_revision()}


async def test_readyz_is_503_while_the_server_is_not_ready(app: App) -> None:
    state = state_of(app)
    state.ready = False
    try:
        response = await app.client.get("/readyz")
    finally:
        state.ready = True
    assert response.status_code == 503
    assert response.json()["type"].endswith("/not-ready")


async def test_readyz_is_503_when_the_database_is_behind_the_code(app: App) -> None:
    state = state_of(app)
    async with state.db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = await app.client.get("/readyz")
    assert response.status_code == 503
    assert "0001" in response.json()["detail"]


async def test_openapi_lists_the_routes(app: App) -> None:
    response = await app.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths: dict[str, Any] = response.json()["paths"]
    for path, method in [
        ("/api/v1/agents", "get"),
        ("/api/v1/agents/{agent_id}", "patch"),
        ("/api/v1/agents/{agent_id}/revoke", "post"),
        ("/api/v1/agents/{agent_id}/approve", "post"),
        ("/api/v1/enroll", "post"),
        ("/api/v1/enrollments", "post"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/audit", "get"),
        ("/api/v1/auth/login", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"


async def test_migrations_build_exactly_the_models_schema(db_url: str, tmp_path: Any) -> None:
    db = Database(db_url or f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    try:
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
        async with db.engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await db.close()
    assert differences == []
