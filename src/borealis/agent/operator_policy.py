"""The agent's operator policy (`<home>/Agent/identity/operator_policy.json`): the operator keys whose
co-signature every job needs (docs/security.md). No keys: jobs signed by the server alone run.

Set at enrollment (`agent enroll --operator-key`) or by an `operator_policy` job that is itself
co-signed by a key trusted now (the job runner checks that); a change the server alone signed is
refused, so whoever holds the server cannot lift the requirement.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.clock import utc_now_iso
from borealis.core import codec
from borealis.core.errors import ConfigError, InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.protocol import keys

POLICY_FILE = "operator_policy.json"


def policy_path(home: Home) -> Path:
    return home.agent_identity / POLICY_FILE


class OperatorPolicy:
    """The trusted operator keys, by fingerprint; `replace` writes the file before it takes effect."""

    def __init__(self, path: Path | None, trusted: list[Ed25519PublicKey]) -> None:
        self.path = path
        self.keys = {keys.fingerprint(key): key for key in trusted}

    @property
    def required(self) -> bool:
        return bool(self.keys)

    @classmethod
    def load(cls, home: Home) -> OperatorPolicy:
        path = policy_path(home)
        if not path.is_file():
            return cls(path, [])
        try:
            data = codec.loads(path.read_bytes())
            listed = data["operator_keys"] if isinstance(data, dict) else None
            if not isinstance(listed, list):
                raise InvalidInput("operator_keys is not a list")
            return cls(path, [keys.public_from_b64(str(text)) for text in listed])
        except (OSError, KeyError, InvalidInput) as exc:
            # Never fall back to "no policy": that would let a damaged file lift co-signing.
            raise ConfigError(f"{path} is damaged ({exc}); fix or remove it by hand") from exc

    def replace(self, trusted: list[Ed25519PublicKey], changed_by: str) -> None:
        save_policy(self.path, trusted, changed_by)
        self.keys = {keys.fingerprint(key): key for key in trusted}


def save_policy(path: Path | None, trusted: list[Ed25519PublicKey], changed_by: str) -> None:
    if path is None:
        return
    ensure_dir(path.parent, private=True)
    document = {
        "operator_keys": [keys.public_b64(key) for key in trusted],
        "fingerprints": [keys.fingerprint(key) for key in trusted],
        "changed_by": changed_by,
        "changed_at": utc_now_iso(),
    }
    write_atomic(path, codec.dumps_bytes(document), mode=0o600)
