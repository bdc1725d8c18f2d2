"""Operator co-signatures: the canonical content of a job an operator signs, and its check.

An operator's client signs a job before the server sees it; an agent whose policy lists operator
keys runs only jobs that carry such a signature as well as the server's (docs/security.md). The
signature covers `borealis-operator-job|` + the sorted-key JSON of

    {key_id, nonce, not_after, role, params, run_as, target, timeout_s}

where, for the `script` role, `params` is `{language, script_sha256, args, env, cwd}`: the script is
carried by the SHA-256 of its body (with the same defaults the server fills in), so the operator signs
exactly the code that will run, and the agent recomputes the hash from the body it receives.
`not_after` is whole epoch seconds; `nonce` is random per signed job (the agent refuses it twice);
`key_id` is the signing key's fingerprint.

On the wire the co-signature is `{key, nonce, not_after, signature}` (`key`: the public key, base64url).

A schedule's job fires the same content many times, so its signature may be *repeatable*: it then
also carries `repeat_s` (in the block and in the signed content), and an agent accepts its nonce again
for other jobs at most once per `repeat_s` on average (one use ahead allowed, for late deliveries).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from borealis.core.errors import InvalidInput
from borealis.protocol import keys

POLICY_ROLE = "operator_policy"
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_SIGNATURE_CHARS = 128
MAX_KEY_CHARS = 64
MAX_POLICY_KEYS = 32
PREFIX = b"borealis-operator-job|"
MAX_REPEAT_S = 366 * 86400


@dataclass(frozen=True)
class Cosignature:
    """An operator's signature block on a job: which key, a one-time nonce, until when it is good."""

    key_id: str
    nonce: str
    not_after: int
    repeat_s: int | None = None


def script_sha256(body: str) -> str:
    """The hex SHA-256 of a script body, as a cosignature names the script."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def canonical_params(role: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` as signed: a script by its hash, with the defaults the server fills in."""
    if role != "script":
        return params
    body = params.get("script")
    return {
        "language": params.get("language"),
        "script_sha256": script_sha256(body) if isinstance(body, str) else None,
        "args": params.get("args", []),
        "env": params.get("env", {}),
        "cwd": params.get("cwd"),
    }


def canonical_target(target: dict[str, Any]) -> dict[str, Any]:
    """The target as signed: unset selectors left out."""
    return {name: value for name, value in target.items() if value is not None}


def payload(
    *,
    key_id: str,
    nonce: str,
    not_after: int,
    role: str,
    params: dict[str, Any],
    run_as: str,
    target: dict[str, Any],
    timeout_s: float,
    repeat_s: int | None = None,
) -> bytes:
    """The bytes an operator key signs for a job: its fields in canonical, key-sorted JSON."""
    body: dict[str, Any] = {
        "key_id": key_id,
        "nonce": nonce,
        "not_after": int(not_after),
        "role": role,
        "params": canonical_params(role, params),
        "run_as": run_as,
        "target": canonical_target(target),
        "timeout_s": float(timeout_s),
    }
    if repeat_s is not None:
        body["repeat_s"] = int(repeat_s)
    return PREFIX + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign_job(
    key: Ed25519PrivateKey,
    *,
    role: str,
    params: dict[str, Any],
    run_as: str,
    target: dict[str, Any],
    timeout_s: float,
    not_after: int,
    repeat_s: int | None = None,
) -> dict[str, Any]:
    """The co-signature block an operator's client sends with the job (repeatable with `repeat_s`)."""
    nonce = keys.random_token(24)
    content = payload(
        key_id=keys.fingerprint(key),
        nonce=nonce,
        not_after=not_after,
        role=role,
        params=params,
        run_as=run_as,
        target=target,
        timeout_s=timeout_s,
        repeat_s=repeat_s,
    )
    block: dict[str, Any] = {
        "key": keys.public_b64(key),
        "nonce": nonce,
        "not_after": int(not_after),
        "signature": keys.sign(key, content),
    }
    if repeat_s is not None:
        block["repeat_s"] = int(repeat_s)
    return block


def parse(block: object) -> tuple[Ed25519PublicKey, str, int, str, int | None]:
    """(public key, nonce, not_after, signature, repeat_s) of a co-signature block; InvalidInput when
    malformed."""
    if not isinstance(block, dict):
        raise InvalidInput("the operator signature must be an object {key, nonce, not_after, signature}")
    key_text, nonce = block.get("key"), block.get("nonce")
    not_after, signature = block.get("not_after"), block.get("signature")
    if not isinstance(key_text, str) or len(key_text) > MAX_KEY_CHARS:
        raise InvalidInput("the operator signature's key must be a base64url Ed25519 public key")
    public = keys.public_from_b64(key_text)
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        raise InvalidInput("the operator signature's nonce must be 16-64 base64url characters")
    if isinstance(not_after, bool) or not isinstance(not_after, int) or not 0 < not_after < 2**40:
        raise InvalidInput("the operator signature's not_after must be whole epoch seconds")
    if not isinstance(signature, str) or not signature or len(signature) > MAX_SIGNATURE_CHARS:
        raise InvalidInput("the operator signature's signature is missing or too long")
    repeat_s = block.get("repeat_s")
    if repeat_s is not None and (
        isinstance(repeat_s, bool) or not isinstance(repeat_s, int) or not 0 < repeat_s <= MAX_REPEAT_S
    ):
        raise InvalidInput(f"the operator signature's repeat_s must be whole seconds up to {MAX_REPEAT_S}")
    return public, nonce, not_after, signature, repeat_s


def verify_job(block: object, job: dict[str, Any]) -> Cosignature:
    """Check a co-signature over `job` ({role, params, run_as, target, timeout_s}); InvalidInput when
    malformed or not matching."""
    public, nonce, not_after, signature, repeat_s = parse(block)
    key_id = keys.fingerprint(public)
    content = payload(
        key_id=key_id,
        nonce=nonce,
        not_after=not_after,
        role=str(job.get("role")),
        params=job.get("params") or {},
        run_as=str(job.get("run_as")),
        target=job.get("target") or {},
        timeout_s=float(job.get("timeout_s") or 0),
        repeat_s=repeat_s,
    )
    if not keys.verify(public, content, signature):
        raise InvalidInput("the operator signature does not match this job's content")
    return Cosignature(key_id, nonce, not_after, repeat_s)


def policy_keys(params: dict[str, Any]) -> list[Ed25519PublicKey]:
    """The operator keys a policy change (`operator_policy` role) sets; InvalidInput when malformed."""
    listed = params.get("operator_keys")
    if set(params) != {"operator_keys"} or not isinstance(listed, list) or len(listed) > MAX_POLICY_KEYS:
        raise InvalidInput(f"an operator policy is {{operator_keys: [at most {MAX_POLICY_KEYS} keys]}}")
    found: list[Ed25519PublicKey] = []
    for text in listed:
        if not isinstance(text, str) or len(text) > MAX_KEY_CHARS:
            raise InvalidInput("operator_keys holds base64url Ed25519 public keys")
        found.append(keys.public_from_b64(text))
    return found
