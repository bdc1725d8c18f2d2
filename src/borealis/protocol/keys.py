"""Ed25519 keys: generation, PEM files, signatures and fingerprints.

A fingerprint is `sha256:` + the hex SHA-256 of the raw 32-byte public key; it is what an install code
carries so the agent can pin the server's key before it trusts anything the server says.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from borealis.core.errors import ConfigError, InvalidInput
from borealis.core.home import ensure_dir, write_atomic


def generate() -> Ed25519PrivateKey:
    """A new Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with `passphrase` when given (operator keys)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def save_private(key: Ed25519PrivateKey, path: Path) -> None:
    """Writes the key as PEM, readable by its owner only."""
    ensure_dir(path.parent, private=True)
    write_atomic(path, private_pem(key), mode=0o600)


def load_private(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The Ed25519 key in a PEM file; `ConfigError` when it cannot be read."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except TypeError as exc:  # encrypted without a passphrase given, or the reverse
        raise ConfigError(f"cannot read private key {path}: {exc}") from exc
    except (OSError, ValueError) as exc:
        reason = "wrong passphrase or damaged file" if passphrase else str(exc)
        raise ConfigError(f"cannot read private key {path}: {reason}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return key


def load_or_create_private(path: Path) -> Ed25519PrivateKey:
    """The key at `path`, made and saved there first when there is none."""
    if path.exists():
        return load_private(path)
    key = generate()
    save_private(key, path)
    return key


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key in base64url, as it travels on the wire."""
    return b64encode(public_raw(key))


# Encodings of the points of small order (8P = identity), with the sign bit cleared; libsodium refuses
# the same list. A key among them would let any signature verify for many messages.
_SMALL_ORDER = frozenset(
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


def public_from_b64(text: str) -> Ed25519PublicKey:
    """A public key from base64url; `InvalidInput` when malformed or of small order."""
    try:
        raw = b64decode(text)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("public key must be 32 raw Ed25519 bytes in base64url") from exc
    if raw[:31] + bytes([raw[31] & 0x7F]) in _SMALL_ORDER:
        raise InvalidInput("public key is a weak (small-order) Ed25519 point")
    return key


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The key's `sha256:` fingerprint, over its raw public bytes."""
    return "sha256:" + hashlib.sha256(public_raw(key)).hexdigest()


def sign(key: Ed25519PrivateKey, payload: bytes) -> str:
    """The base64url signature of `payload`."""
    return b64encode(key.sign(payload))


def verify(public: Ed25519PublicKey, payload: bytes, signature: str) -> bool:
    """Whether `signature` is the key's over `payload`; malformed signatures are simply False."""
    try:
        public.verify(b64decode(signature), payload)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def b64encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    """base64url, padding optional; `ValueError` for anything else."""
    if not isinstance(text, str) or len(text) > 4096:
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_token(nbytes: int = 32) -> str:
    """A random base64url token of `nbytes` bytes."""
    return b64encode(os.urandom(nbytes))
