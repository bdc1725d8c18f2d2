"""The server's TLS certificate: your own (`--tls-cert/--tls-key`), or with `--tls` a self-signed
one made in `<home>/Server/keys` on first start and reused after; install codes pin the latter."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from borealis.core.errors import ConfigError
from borealis.core.home import ensure_dir, write_atomic
from borealis.core.settings import ServerSettings
from borealis.protocol.tls import pem_fingerprint

CERT_FILE = "tls_cert.pem"
KEY_FILE = "tls_key.pem"
VALID_DAYS = 3650


def self_signed_paths(settings: ServerSettings) -> tuple[Path, Path]:
    keys_dir = settings.home.server_keys
    return keys_dir / CERT_FILE, keys_dir / KEY_FILE


def cert_and_key(settings: ServerSettings) -> tuple[Path, Path] | None:
    """The files uvicorn serves, or None for plain HTTP. Makes the self-signed pair when needed."""
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise ConfigError("give both --tls-cert and --tls-key")
        cert, key = Path(settings.tls_cert), Path(settings.tls_key)
        for path in (cert, key):
            if not path.is_file():
                raise ConfigError(f"TLS file {path} does not exist")
        return cert, key
    if not settings.tls:
        return None
    cert, key = self_signed_paths(settings)
    if not (cert.is_file() and key.is_file()):
        _generate(cert, key, settings.host)
    return cert, key


def pinned_fingerprint(settings: ServerSettings) -> str | None:
    """What https:// install codes pin: the self-signed certificate's fingerprint, once the first
    start with --tls made it (your own certificate, --tls-cert, is verified the usual way instead)."""
    cert, _ = self_signed_paths(settings)
    if settings.tls_cert or not cert.is_file():
        return None
    return pem_fingerprint(cert.read_text(encoding="ascii"))


def _generate(cert_path: Path, key_path: Path, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    for address in {"127.0.0.1", "::1", host}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Borealis server {socket.gethostname()}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    ensure_dir(cert_path.parent, private=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(key_path, pem, mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
