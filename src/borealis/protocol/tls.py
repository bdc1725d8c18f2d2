"""TLS pinning for agents (DESIGN §5): the install code carries the SHA-256 fingerprint of the
server's self-signed certificate; the agent fetches the certificate once, checks it against that
fingerprint, keeps it, and from then on trusts exactly that certificate (no CA chain, no host name)."""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from borealis.core.errors import EnrollmentRefused, InvalidInput, TransientError

FETCH_TIMEOUT_S = 10.0


def cert_fingerprint(der: bytes) -> str:
    """The `sha256:` fingerprint of a DER certificate."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def pem_fingerprint(pem: str) -> str:
    """The `sha256:` fingerprint of a PEM certificate."""
    return cert_fingerprint(ssl.PEM_cert_to_DER_cert(pem))


def pinned_context(cert_file: Path) -> ssl.SSLContext:
    """A client context that trusts only the certificate in `cert_file` (host name not checked:
    the pin is the identity)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert_file))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def fetch_pinned(server_url: str, fingerprint: str) -> str:
    """The server's certificate (PEM), fetched without trusting it and checked against the pin.
    Nothing is sent but the TLS handshake."""
    parts = urlsplit(server_url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("the install code pins a TLS certificate, so the server URL must be https://")
    port = parts.port or 443
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((parts.hostname, port), timeout=FETCH_TIMEOUT_S) as raw,
            context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise TransientError(f"cannot fetch the TLS certificate of {parts.netloc}: {exc}") from exc
    if not der or cert_fingerprint(der) != fingerprint:
        raise EnrollmentRefused("the server's TLS certificate does not match the install code")
    return ssl.DER_cert_to_PEM_cert(der)
