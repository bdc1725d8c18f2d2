"""Authority over what runs on agents: the one rule that decides whether a principal may make agents
run a job, checked when something that runs later is saved or enabled (a schedule, a workflow with
agent steps, a script others follow) and again when it runs, against the principal as it is now."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import Forbidden, NotAuthenticated
from borealis.server.auth.principal import CLI, Principal
from borealis.server.auth.scopes import Scope
from borealis.server.auth.tokens import token_scopes, user_scopes
from borealis.server.db.models import ApiToken, User

RUN_SCOPES = frozenset({Scope.JOBS_RUN})
UNRESOLVED = "unresolved:"  # an owner recorded by name before owners were recorded by id (migration 0009)


def require_run(principal: Principal, what: str) -> None:
    """Refuse (403) unless `principal` may make agents run jobs; `what` names the thing that would."""
    missing = sorted(scope.value for scope in RUN_SCOPES if not principal.may(scope))
    if missing:
        raise Forbidden(
            f"{what} makes agents run jobs, which needs {', '.join(missing)} "
            f"(the same as POST /api/v1/jobs); {principal.actor} ({principal.name}) lacks it"
        )


async def load(session: AsyncSession, ref: str) -> Principal:
    """The principal recorded as `ref` (`user:<id>`, `token:<id>`, `cli:cli`) as it stands now: its
    role today, its token not revoked or expired, its user not disabled, its creator still entitled.
    Raises `Forbidden` with the reason when it can no longer act."""
    kind, _, ident = ref.partition(":")
    try:
        if kind == "cli" and ident == CLI.id:
            return CLI
        if kind == "user" and ident:
            user = await session.get(User, ident)
            scopes = await user_scopes(session, ident)
            return Principal(
                kind="user", id=ident, name=user.username if user else ident, scopes=scopes, user_id=ident
            )
        if kind == "token" and ident:
            token = await session.get(ApiToken, ident)
            if token is None:
                raise NotAuthenticated(f"API token {ident} no longer exists")
            scopes = await token_scopes(session, token)
            return Principal(kind="token", id=token.id, name=token.name, scopes=scopes, user_id=token.user_id)
    except NotAuthenticated as gone:
        raise Forbidden(f"its owner can no longer act: {gone.detail}") from None
    if ref.startswith(UNRESOLVED):
        raise Forbidden(
            f"its owner was recorded by name ({ref[len(UNRESOLVED) :]}) before owners were recorded by id; "
            "save it again to run it under your own authority"
        )
    raise Forbidden(f"its owner {ref!r} is not a principal that can run jobs")


async def check_run(session: AsyncSession, ref: str, what: str) -> Principal:
    """At run time: the principal behind `ref` as it is now, refused unless it may still run jobs."""
    principal = await load(session, ref)
    require_run(principal, what)
    return principal


def is_principal(ref: str) -> bool:
    """Whether a run's recorded starter is a principal (`hook:…` and `poll:…` starters are not)."""
    return ref.partition(":")[0] in ("user", "token", "cli")
