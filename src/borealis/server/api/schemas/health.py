"""Health answers: liveness and readiness."""

from __future__ import annotations

from typing import Literal

from borealis.server.api.schemas.common import Schema


class Alive(Schema):
    status: Literal["ok"]


class Ready(Schema):
    status: Literal["ready"]
    database: str | None
