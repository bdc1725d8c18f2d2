"""The agent versions the server holds: upload (stored, hashed, signed), list, one, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, InvalidInput
from borealis.core.home import Home
from borealis.protocol import keys
from borealis.protocol.agent_updates import update_payload, wheel_filename
from borealis.server import audit
from borealis.server.agent_updates import store, wheels
from borealis.server.db.database import Database
from borealis.server.db.models import AgentVersion


class Catalog:
    def __init__(self, home: Home, db: Database, key: Ed25519PrivateKey) -> None:
        self.home = home
        self.db = db
        self.key = key

    async def upload(
        self, filename: str, body: AsyncIterator[bytes], actor: str, ip: str | None
    ) -> AgentVersion:
        wheels.check_filename(filename)
        received = await wheels.receive(self.home, body)
        try:
            if filename != wheel_filename(received.version):
                raise InvalidInput(
                    f"the filename says one version but the wheel's METADATA says {received.version}",
                    field="filename",
                )
            signature = keys.sign(self.key, update_payload(received.version, received.sha256, received.size))
            async with self.db.transaction() as session:
                if await session.get(AgentVersion, received.version) is not None:
                    raise Conflict(f"agent version {received.version} is already uploaded; delete it first")
                row = AgentVersion(
                    version=received.version,
                    filename=filename,
                    sha256=received.sha256,
                    size=received.size,
                    signature=signature,
                    uploaded_by=actor,
                    uploaded_at=utcnow(),
                )
                session.add(row)
                audit.record(
                    session,
                    actor,
                    "agent_version.upload",
                    received.version,
                    ip,
                    sha256=received.sha256,
                    size=received.size,
                )
                await session.flush()
                await wheels.keep(self.home, received)  # before the commit: a row always has its file
        finally:
            await wheels.discard(received.path)  # gone already when kept
        return row

    async def listing(self) -> list[AgentVersion]:
        async with self.db.session() as session:
            query = select(AgentVersion).order_by(AgentVersion.uploaded_at.desc())
            return list((await session.scalars(query)).all())

    async def one(self, version: str) -> AgentVersion:
        async with self.db.session() as session:
            return await store.get_version(session, version)

    async def delete(self, version: str, actor: str, ip: str | None) -> None:
        """Delete a version and its rollout; refused while agents are fetching or switching to it."""
        async with self.db.transaction() as session:
            row = await store.get_version(session, version)
            busy = await store.count_in_flight(session, version)
            if busy:
                raise Conflict(f"{busy} agents are updating to {version}; wait until they are done")
            await session.delete(row)
            shared = await session.scalar(
                select(func.count()).where(AgentVersion.sha256 == row.sha256, AgentVersion.version != version)
            )
            audit.record(session, actor, "agent_version.delete", version, ip, sha256=row.sha256)
        if not shared:
            await wheels.discard(wheels.blob_path(self.home, row.sha256))
