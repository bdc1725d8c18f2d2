"""The server's Ed25519 signing key, kept in <home>/Server/keys (created on first start)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.core.home import Home
from borealis.protocol.keys import load_or_create_private

KEY_FILE = "server_ed25519.pem"


def server_key(home: Home) -> Ed25519PrivateKey:
    return load_or_create_private(home.server_keys / KEY_FILE)
