"""Secrets as we hand them out and store them: random, shown once, kept as SHA-256 or argon2id.

API tokens and session cookies are 256-bit random values, so a fast hash is enough to store them;
passwords are chosen by people, so they get argon2id. Argon2 costs ~0.3 s of CPU and 64 MiB on purpose,
so the server runs it on a small pool of its own threads, never on the event loop (where it would stall
every agent's socket) and never more than two at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from borealis.core.errors import InvalidInput
from borealis.protocol.keys import random_token

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
_argon2_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_CHARS} characters", field="password")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput("password is too long", field="password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_argon2_threads, hash_password, password)


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _argon2_threads, verify_password, password_hash, password
    )


def generate_password() -> str:
    return random_token(18)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def new_secret() -> str:
    return random_token(32)


def split_credential(value: str, prefix: str) -> tuple[str, str] | None:
    """`brt_<id>_<secret>` → (id, secret); None when it is not of that shape."""
    if not value.startswith(prefix) or len(value) > 256:
        return None
    ident, sep, secret = value[len(prefix) :].partition("_")
    if not sep or len(ident) != 32 or not secret:
        return None
    return ident, secret
