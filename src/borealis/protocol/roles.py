"""Roles the server distributes (DESIGN §8, issue 5): the frames and what the server signs in them.

`role.install {name, version, body, sha256, signature}` carries a role module's source; the signature
covers `role_install_payload`, so the agent loads only what the server it pinned at enrollment sent.
`role.remove {name, version, signature}` withdraws it. An agent never goes back to an older version
of a name: versions only grow, and a removal is remembered with its version.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Final

ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_ROLE_BYTES = 256 * 1024


class RoleMessage(StrEnum):
    """The `t` tags of the role frames."""

    INSTALL = "role.install"
    REMOVE = "role.remove"
    STATUS = "role.status"


INSTALL: Final = RoleMessage.INSTALL
REMOVE: Final = RoleMessage.REMOVE
STATUS: Final = RoleMessage.STATUS


def body_sha256(body: str) -> str:
    """The hex SHA-256 of a role module's body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def role_install_payload(name: str, version: int, sha256: str) -> bytes:
    """The bytes the server signs to have an agent install a role module version."""
    return f"borealis-role-install|{name}|{version}|{sha256}".encode()


def role_remove_payload(name: str, version: int) -> bytes:
    """The bytes the server signs to have an agent remove a role module version."""
    return f"borealis-role-remove|{name}|{version}".encode()
