"""The agent's private key (`<home>/Agent/identity/agent_key.pem`, 0600) and the pinned server key."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from borealis.agent.identity import Identity, identity_path, write_identity
from borealis.core.errors import ConfigError, InvalidInput
from borealis.core.home import Home
from borealis.protocol import keys
from borealis.protocol.tls import pinned_context

KEY_FILE = "agent_key.pem"
TLS_CERT_FILE = "server_tls.pem"


def key_path(home: Home) -> Path:
    return home.agent_identity / KEY_FILE


def load_agent_key(home: Home) -> Ed25519PrivateKey:
    return keys.load_private(key_path(home))


def pinned_server_key(home: Home, identity: Identity) -> Ed25519PublicKey:
    """The server key from identity.json, checked against the fingerprint the install code gave."""
    source = identity_path(home)
    try:
        key = keys.public_from_b64(identity.server_public_key)
    except InvalidInput as exc:
        raise ConfigError(f"{source}: server_public_key is damaged; enroll again with --force") from exc
    if keys.fingerprint(key) != identity.fingerprint:
        raise ConfigError(f"{source}: server key and fingerprint disagree; enroll again with --force")
    return key


def save_credentials(home: Home, identity: Identity, key: Ed25519PrivateKey) -> None:
    """Key first, identity last: a crash in between leaves the home "not enrolled", never half so."""
    keys.save_private(key, key_path(home))
    write_identity(home, identity)


def tls_cert_path(home: Home) -> Path:
    """The server's self-signed TLS certificate, pinned at enrollment (absent: no pin)."""
    return home.agent_identity / TLS_CERT_FILE


def server_tls_context(home: Home, server_url: str) -> ssl.SSLContext | None:
    """For wss:// and https://: the pinned certificate when there is one, else None (the system's
    CA store verifies the server, as for any HTTPS site)."""
    path = tls_cert_path(home)
    if not server_url.startswith("https://") or not path.is_file():
        return None
    return pinned_context(path)
