"""Roles the server accepts in a job: the built-ins, plus every role an agent reported in a heartbeat."""

from __future__ import annotations

from collections.abc import Iterable

from borealis.protocol.cosign import POLICY_ROLE

BUILTIN_ROLES = frozenset({"script", "health", "screenshot", POLICY_ROLE})
MAX_ROLES = 1024
MAX_ROLE_NAME = 64


class KnownRoles:
    def __init__(self) -> None:
        self.reported: set[str] = set()

    def note(self, names: Iterable[object]) -> None:
        """Called with the keys of a heartbeat's `roles_health`; cheap when nothing is new."""
        for name in names:
            if name in self.reported or not isinstance(name, str):
                continue
            if len(self.reported) < MAX_ROLES and 0 < len(name) <= MAX_ROLE_NAME:
                self.reported.add(name)

    def __contains__(self, name: str) -> bool:
        return name in BUILTIN_ROLES or name in self.reported

    def names(self) -> list[str]:
        return sorted(BUILTIN_ROLES | self.reported)
