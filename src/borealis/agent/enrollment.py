"""`borealis agent enroll`: trade an install code for an agent id, and pin the server's key.

Nothing is written to the home unless the server accepted the agent and proved, through the key
fingerprint the install code carries, that it is the server the code came from.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from borealis import __version__
from borealis.agent.clock import utc_now_iso
from borealis.agent.credentials import save_credentials, tls_cert_path
from borealis.agent.facts import host_facts, hostname
from borealis.agent.identity import Identity, is_enrolled, load_identity
from borealis.agent.operator_policy import policy_path, save_policy
from borealis.core.errors import (
    BorealisError,
    Conflict,
    EnrollmentRefused,
    InvalidInput,
    ProtocolError,
    TransientError,
)
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.core.settings import update_toml
from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from borealis.protocol.messages import ENROLL_PATH
from borealis.protocol.tls import fetch_pinned

ENROLL_TIMEOUT_S = 15.0
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class Enrollment:
    identity: Identity
    status: str
    heartbeat_s: float | None


def enroll(
    home: Home,
    code_text: str,
    server_url: str | None = None,
    force: bool = False,
    client: httpx.Client | None = None,
    operator_keys: list[str] | tuple[str, ...] = (),
) -> Enrollment:
    """Enroll this machine. `client` is the transport seam for tests (an httpx.MockTransport).

    `operator_keys` (base64url public keys) become the agent's operator policy: it will run only jobs
    co-signed by one of them. None given: a policy already in the home is kept."""
    code = InstallCode.decode(code_text)
    trusted = [keys.public_from_b64(text.strip()) for text in operator_keys]
    url = normalize_server_url(server_url or code.server_url)
    if is_enrolled(home) and not force:
        current = _describe_current(home)
        raise Conflict(f"this home is already enrolled{current}; use --force to enroll it again")
    tls_pem: str | None = None
    if code.tls_fingerprint and url.startswith("https://"):
        tls_pem = fetch_pinned(url, code.tls_fingerprint)
    key = keys.generate()
    body = {
        "secret": code.secret,
        "public_key": keys.public_b64(key),
        "hostname": hostname(),
        "facts": host_facts(),
    }
    answer = _post_enrollment(url, body, client, tls_pem)
    server_key_text, agent_id, status, heartbeat_s = _parse_answer(answer)
    try:
        server_key = keys.public_from_b64(server_key_text)
    except InvalidInput as exc:
        raise ProtocolError("the server's public key in the enrollment answer is damaged") from exc
    if keys.fingerprint(server_key) != code.fingerprint:
        raise EnrollmentRefused("server key does not match the install code")
    identity = Identity(
        agent_id=agent_id,
        server_url=url,
        server_public_key=server_key_text,
        fingerprint=code.fingerprint,
        enrolled_at=utc_now_iso(),
    )
    update_toml(home.agent_toml, server_url=url)
    if trusted:
        save_policy(policy_path(home), trusted, changed_by="enrollment")
    save_tls_pin(home, tls_pem)
    save_credentials(home, identity, key)
    return Enrollment(identity=identity, status=status, heartbeat_s=heartbeat_s)


def normalize_server_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise InvalidInput(f"server URL must start with http:// or https://, not {url!r}")
    return url


def _describe_current(home: Home) -> str:
    try:
        return f" as agent {load_identity(home).agent_id}"
    except BorealisError:
        return ""


def save_tls_pin(home: Home, tls_pem: str | None) -> None:
    """Keep the pinned certificate; a code without a pin removes an older one."""
    path = tls_cert_path(home)
    if tls_pem is None:
        path.unlink(missing_ok=True)
        return
    ensure_dir(path.parent, private=True)
    write_atomic(path, tls_pem.encode("ascii"), mode=0o600)


def _post_enrollment(url: str, body: dict[str, Any], client: httpx.Client | None, tls_pem: str | None) -> Any:
    owned = client is None
    verify: ssl.SSLContext | bool = True
    if tls_pem is not None:  # trust exactly the certificate the install code pinned
        verify = ssl.create_default_context(cadata=tls_pem)
        verify.check_hostname = False
    http = client or httpx.Client(
        timeout=ENROLL_TIMEOUT_S, headers={"user-agent": f"borealis-agent/{__version__}"}, verify=verify
    )
    try:
        response = http.post(url + ENROLL_PATH, json=body)
    except httpx.TimeoutException as exc:
        raise TransientError(f"the server at {url} did not answer within {ENROLL_TIMEOUT_S:.0f} s") from exc
    except httpx.HTTPError as exc:
        raise TransientError(
            f"cannot reach the server at {url}: {_one_line(str(exc)) or type(exc).__name__}"
        ) from exc
    finally:
        if owned:
            http.close()
    if response.status_code in (200, 201):
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError("the server answered the enrollment with something that is not JSON") from exc
    detail = _problem_detail(response)
    if response.status_code in (400, 413, 422):
        raise InvalidInput(detail)
    if 400 <= response.status_code < 500:
        raise EnrollmentRefused(detail)
    raise TransientError(f"the server failed to enroll the agent (HTTP {response.status_code}): {detail}")


def _problem_detail(response: httpx.Response) -> str:
    """The `detail` (or `title`) of an RFC 9457 problem body, on one line."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        for name in ("detail", "title"):
            text = problem.get(name)
            if isinstance(text, str) and text.strip():
                return _one_line(text)
    return f"the server refused the enrollment (HTTP {response.status_code})"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _parse_answer(answer: Any) -> tuple[str, str, str, float | None]:
    bad = ProtocolError("the server's enrollment answer lacks agent_id or server_public_key")
    if not isinstance(answer, dict):
        raise bad
    agent_id, server_key, status = (
        answer.get("agent_id"),
        answer.get("server_public_key"),
        answer.get("status"),
    )
    if not isinstance(agent_id, str) or not re.fullmatch(r"[\w.:-]{1,128}", agent_id):
        raise bad
    if not isinstance(server_key, str) or not server_key:
        raise bad
    heartbeat = answer.get("heartbeat_s")
    heartbeat_s = float(heartbeat) if isinstance(heartbeat, int | float) and heartbeat > 0 else None
    return server_key, agent_id, status if isinstance(status, str) else "active", heartbeat_s
