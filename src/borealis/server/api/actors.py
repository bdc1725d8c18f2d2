"""Who an actor id is: `GET /api/v1/actors?id=user:…&id=token:…` → display names. Any signed-in principal
may ask; it learns people's names, and the names of tokens, agents, schedules and workflows only with
the scope that lists those (`auth/actors.py`), else `null`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from borealis.server.api.guard import authenticate
from borealis.server.api.schemas.operators import ActorList
from borealis.server.auth.actors import actor_names
from borealis.server.auth.principal import Principal
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/actors", tags=["audit"])
MAX_ACTORS = 100


@router.get("", response_model=ActorList)
async def list_actors(
    request: Request,
    who: Annotated[Principal, Depends(authenticate)],
    ids: Annotated[
        list[Annotated[str, Query(max_length=160)]],
        Query(alias="id", min_length=1, max_length=MAX_ACTORS, description="an actor id; repeat for more"),
    ],
) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        names = await actor_names(session, ids, who)
    return {"items": [{"id": actor, "name": name} for actor, name in names.items()]}
