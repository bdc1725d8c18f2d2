"""What a submitted job asks for, checked before anything is stored (bad input is a 4xx, never a 500).

For the `script` role, `params` is `{language, script | script_id [+ script_version [+ script_sha256]],
args, env, cwd}`; a library script is resolved here, so the agent always receives (and the signature
always covers) the exact body that runs. What is stored to run later (a schedule's job) is pinned with
`pin_script`: the version and the SHA-256 of its body, unless `script_version: "latest"` says to follow
the newest version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import InvalidInput, NotFound, PayloadTooLarge
from borealis.protocol import cosign, screenshot
from borealis.protocol.jobs import RunAs
from borealis.server.jobs import library
from borealis.server.jobs.roles import KnownRoles

LANGUAGES = ("bash", "sh", "python", "powershell", "cmd")
SCRIPT_PARAMS = frozenset(
    {"language", "script", "script_id", "script_version", "script_sha256", "args", "env", "cwd"}
)
LATEST = library.LATEST  # `script_version: "latest"`: follow the library script's newest version
MAX_ARGS = 256
MAX_ARG_CHARS = 8192
MAX_ENV = 256
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_PARAMS_BYTES = 64 * 1024  # roles other than `script`


@dataclass(frozen=True)
class JobSpec:
    role: str
    params: dict[str, Any]
    run_as: RunAs
    timeout_s: float
    expires_in_s: float
    batch_size: int | None = None
    batch_percent: int | None = None
    stop_on_failure: bool = False
    script_id: str | None = None
    script_version: int | None = None
    cosign: dict[str, Any] | None = None  # an operator's co-signature (protocol/cosign.py)


def check_cosign(
    spec: JobSpec, target: dict[str, Any], now: datetime, expires_at: datetime
) -> tuple[str, datetime]:
    """Check an operator's co-signature against the resolved job (the server cannot forge one, but a
    mismatch caught here is a clear 422 instead of a refusal on every agent). Returns the signing
    key's fingerprint and the job's expiry, never later than the signature's."""
    job = {
        "role": spec.role,
        "params": spec.params,
        "run_as": spec.run_as.value,
        "target": target,
        "timeout_s": spec.timeout_s,
    }
    try:
        signed = cosign.verify_job(spec.cosign, job)
    except InvalidInput as bad:
        raise InvalidInput(bad.detail, field="operator_signature") from None
    signed_until = datetime.fromtimestamp(signed.not_after, UTC)
    if signed_until <= now:
        raise InvalidInput("the operator signature has expired", field="operator_signature.not_after")
    return signed.key_id, min(expires_at, signed_until)


def check_language(value: object) -> str:
    if value not in LANGUAGES:
        raise InvalidInput(
            f"unknown language {value!r}; use one of {', '.join(LANGUAGES)}", field="params.language"
        )
    return str(value)


def check_body_size(body: str, max_bytes: int, field: str) -> None:
    if len(body.encode("utf-8", errors="replace")) > max_bytes:
        raise PayloadTooLarge(f"the script is over the limit of {max_bytes} bytes", field=field)


async def resolve_params(
    session: AsyncSession, spec: JobSpec, roles: KnownRoles, max_script_bytes: int
) -> JobSpec:
    """The spec with a known role and checked (for `script`: resolved) parameters."""
    if spec.role not in roles:
        raise InvalidInput(
            f"unknown role {spec.role!r}; known roles: {', '.join(roles.names())}", field="role"
        )
    if spec.role == cosign.POLICY_ROLE:
        try:
            cosign.policy_keys(spec.params)
        except InvalidInput as bad:
            raise InvalidInput(bad.detail, field="params.operator_keys") from None
        if spec.cosign is None:
            raise InvalidInput("an operator policy change must be co-signed", field="operator_signature")
    if spec.role == screenshot.ROLE:
        if spec.run_as is not RunAs.USER:
            raise InvalidInput("a screenshot runs in the user's session: run_as must be user", field="run_as")
        return JobSpec(**{**spec.__dict__, "params": screenshot.check_params(spec.params)})
    if spec.role != "script":
        if len(orjson.dumps(spec.params)) > MAX_PARAMS_BYTES:
            raise PayloadTooLarge(f"params are over {MAX_PARAMS_BYTES} bytes", field="params")
        return spec
    params, script_id, version = await _script_params(session, spec.params, max_script_bytes)
    return JobSpec(**{**spec.__dict__, "params": params, "script_id": script_id, "script_version": version})


async def _script_params(
    session: AsyncSession, params: dict[str, Any], max_script_bytes: int
) -> tuple[dict[str, Any], str | None, int | None]:
    unknown = sorted(set(params) - SCRIPT_PARAMS)
    if unknown:
        raise InvalidInput(f"unknown script parameters {unknown}", field="params")
    script_id = params.get("script_id")
    version = params.get("script_version")
    pinned_hash = params.get("script_sha256")
    if script_id is not None:
        if "script" in params:
            raise InvalidInput("give either script or script_id, not both", field="params")
        if not isinstance(script_id, str) or not script_id or len(script_id) > 64:
            raise InvalidInput("script_id must be a script's id", field="params.script_id")
        if version == LATEST:
            version = None
        elif version is not None and (
            not isinstance(version, int) or isinstance(version, bool) or version < 1
        ):
            raise InvalidInput(
                'script_version must be a positive integer or "latest"', field="params.script_version"
            )
        try:
            script, row = await library.get_version(session, script_id, version)
        except NotFound as missing:
            raise InvalidInput(missing.detail, field="params.script_id") from missing
        if pinned_hash is not None and pinned_hash != library.body_sha256(row.body):
            raise InvalidInput(
                f"script {script.name!r} version {row.version} is not the body it was pinned to "
                "(its SHA-256 differs)",
                field="params.script_sha256",
            )
        language = check_language(params.get("language", row.language))
        if language != row.language:
            raise InvalidInput(
                f"script {script.name!r} is {row.language}, not {language}", field="params.language"
            )
        body, version = row.body, row.version
    else:
        if version is not None or pinned_hash is not None:
            raise InvalidInput("script_version needs a script_id", field="params.script_version")
        language = check_language(params.get("language"))
        given = params.get("script")
        if not isinstance(given, str) or not given.strip():
            raise InvalidInput(
                "script must be a non-empty string (or name a script_id)", field="params.script"
            )
        body = given
    check_body_size(body, max_script_bytes, "params.script")
    resolved = {
        "language": language,
        "script": body,
        "args": _args(params.get("args", [])),
        "env": _env(params.get("env", {})),
        "cwd": _cwd(params.get("cwd")),
    }
    return resolved, script_id, version


def _args(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_ARGS:
        raise InvalidInput(f"args must be a list of at most {MAX_ARGS} strings", field="params.args")
    for arg in value:
        if not isinstance(arg, str) or len(arg) > MAX_ARG_CHARS or "\x00" in arg:
            raise InvalidInput(
                f"each arg must be a string of at most {MAX_ARG_CHARS} characters, no NUL",
                field="params.args",
            )
    return list(value)


def _env(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_ENV:
        raise InvalidInput(f"env must be an object of at most {MAX_ENV} strings", field="params.env")
    for name, text in value.items():
        if (
            not ENV_NAME.fullmatch(name)
            or not isinstance(text, str)
            or len(text) > MAX_ARG_CHARS
            or "\x00" in text
        ):
            raise InvalidInput(
                f"env {name!r}: names are A-Z, a-z, 0-9, _; values strings", field="params.env"
            )
    return dict(value)


def _cwd(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 4096 or "\x00" in value:
        raise InvalidInput("cwd must be a path", field="params.cwd")
    return value


async def pin_script(session: AsyncSession, params: dict[str, Any]) -> dict[str, Any]:
    """Script params to store for later runs: a library script pinned to the version it names (or the
    newest now) and its body's SHA-256, unless `script_version` is `"latest"`. Checked params only."""
    script_id = params.get("script_id")
    if not isinstance(script_id, str) or params.get("script_version") == LATEST:
        return params
    version = params.get("script_version")
    _, row = await library.get_version(session, script_id, version if isinstance(version, int) else None)
    return {**params, "script_version": row.version, "script_sha256": library.body_sha256(row.body)}
