"""What the gateway needs to trust an agent, kept in memory: a reconnect storm costs no database query.

Only `active` agents are cached (their raw public key and reported version). Unknown, pending and
revoked agents are read from the database on every attempt, which is rare: they back off. An agent
leaves the cache in every server process when the bus carries `agent.close` (revoke, deny, delete).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from borealis.protocol import keys
from borealis.server.db.database import Database
from borealis.server.db.models import Agent


@dataclass(frozen=True, slots=True)
class AgentTrust:
    public_key: bytes
    state: str
    version: str


class AgentKeys:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.active: dict[str, tuple[bytes, str]] = {}

    async def load(self) -> None:
        async with self.db.session() as session:
            rows = await session.execute(
                select(Agent.id, Agent.public_key, Agent.version).where(Agent.state == "active")
            )
            self.active = {agent_id: (keys.b64decode(public), version) for agent_id, public, version in rows}

    async def lookup(self, agent_id: str) -> AgentTrust | None:
        cached = self.active.get(agent_id)
        if cached is not None:
            return AgentTrust(cached[0], "active", cached[1])
        async with self.db.session() as session:
            agent = await session.get(Agent, agent_id)
        if agent is None:
            return None
        raw = keys.b64decode(agent.public_key)
        if agent.state == "active":
            self.active[agent_id] = (raw, agent.version)
        return AgentTrust(raw, agent.state, agent.version)

    async def record_version(self, agent_id: str, version: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(Agent).where(Agent.id == agent_id).values(version=version))
        cached = self.active.get(agent_id)
        if cached is not None:
            self.active[agent_id] = (cached[0], version)

    def forget(self, agent_id: str) -> None:
        self.active.pop(agent_id, None)
