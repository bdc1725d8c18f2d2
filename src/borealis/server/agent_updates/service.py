"""The agent-update part of a server process: the versions it holds and their rollouts."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.core.settings import ServerSettings
from borealis.server.agent_keys import AgentKeys
from borealis.server.agent_updates.catalog import Catalog
from borealis.server.agent_updates.rollouts import Rollouts
from borealis.server.db.database import Database
from borealis.server.jobs.delivery import Delivery


@dataclass(frozen=True)
class AgentUpdates:
    catalog: Catalog
    rollouts: Rollouts

    @classmethod
    def build(
        cls,
        settings: ServerSettings,
        db: Database,
        key: Ed25519PrivateKey,
        delivery: Delivery,
        agent_keys: AgentKeys,
    ) -> AgentUpdates:
        return cls(Catalog(settings.home, db, key), Rollouts(settings, db, delivery, agent_keys))

    async def start(self) -> None:
        await self.rollouts.start()

    async def stop(self) -> None:
        await self.rollouts.stop()
