"""Display names for the actor ids records keep (`user:<id>`, `token:<id>`, `agent:<id>`, `schedule:<id>`,
`workflow:<id>`): records name who acted by id, so a rename never rewrites history; people read names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope
from borealis.server.db.models import Agent, ApiToken, Schedule, User
from borealis.server.workflows.models import Workflow

# kind → (the table's id column, the column people know it by)
_NAMED_BY: dict[str, tuple[Any, Any]] = {
    "user": (User.id, User.username),
    "token": (ApiToken.id, ApiToken.name),
    "agent": (Agent.id, Agent.hostname),
    "schedule": (Schedule.id, Schedule.name),
    "workflow": (Workflow.id, Workflow.name),
}
SYSTEM_ACTORS = {"cli:cli": "the server's command line"}
# Whose name a principal may learn: people's names to anyone signed in (who launched a job is part of
# reading it); the rest only with the scope that lists them anyway, or one's own token.
NAME_NEEDS: dict[str, Scope | None] = {
    "user": None,
    "token": Scope.USERS_READ,
    "agent": Scope.AGENTS_READ,
    "schedule": Scope.SCHEDULES_READ,
    "workflow": Scope.WORKFLOWS_READ,
}


def may_name(principal: Principal, actor: str) -> bool:
    """Whether `principal` may learn the name behind `actor`."""
    needs = NAME_NEEDS.get(actor.partition(":")[0])
    return actor == principal.actor or needs is None or principal.may(needs)


async def actor_names(
    session: AsyncSession, actors: Iterable[str], principal: Principal
) -> dict[str, str | None]:
    """Each actor's display name; None for one that is gone, of a kind with no name, or whose name
    `principal` may not learn."""
    names: dict[str, str | None] = {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for actor in actors:
        kind, _, ident = actor.partition(":")
        names[actor] = SYSTEM_ACTORS.get(actor)
        if kind in _NAMED_BY and ident and may_name(principal, actor):
            wanted[kind].add(ident)
    for kind, idents in wanted.items():
        id_column, name_column = _NAMED_BY[kind]
        rows = await session.execute(select(id_column, name_column).where(id_column.in_(idents)))
        for ident, name in rows:
            names[f"{kind}:{ident}"] = name
    return names
