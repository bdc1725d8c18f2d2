"""`borealis keys create|show`: an operator's Ed25519 signing key, kept on the operator's machine in a
passphrase-encrypted file (0600), never on the server (docs/security.md, operator co-signing)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.core.errors import Conflict, InvalidInput
from borealis.core.home import write_atomic
from borealis.protocol import keys

MIN_PASSPHRASE = 8
DEFAULT_KEY = "~/.borealis/operator_key.pem"

key_file_option = click.option(
    "--key",
    "key_file",
    envvar="BOREALIS_OPERATOR_KEY",
    default=DEFAULT_KEY,
    show_default=True,
    help="The operator key file (or BOREALIS_OPERATOR_KEY).",
)
passphrase_stdin_option = click.option(
    "--passphrase-stdin", is_flag=True, help="Read the key's passphrase from the first line of stdin."
)


def read_passphrase(from_stdin: bool, confirm: bool = False) -> bytes:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    else:
        text = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if not text:
        raise InvalidInput("the passphrase is empty")
    return text.encode("utf-8")


def public_file(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def load_operator_key(key_file: str, passphrase_stdin: bool) -> Ed25519PrivateKey:
    path = Path(key_file).expanduser()
    if not path.is_file():
        raise InvalidInput(f"no operator key at {path} (create one with `borealis keys create`)")
    return keys.load_private(path, read_passphrase(passphrase_stdin))


@click.group()
def keys_group() -> None:
    """Operator signing keys: jobs co-signed with them run on agents that require it."""


@keys_group.command()
@click.option("--out", "out", default=None, help=f"Where to write the key (default: {DEFAULT_KEY}).")
@passphrase_stdin_option
@click.option("--force", is_flag=True, help="Replace an existing key file.")
def create(out: str | None, passphrase_stdin: bool, force: bool) -> None:
    """Create an operator key; prints its public key (what `agent enroll --operator-key` takes)."""
    path = Path(out or os.environ.get("BOREALIS_OPERATOR_KEY") or DEFAULT_KEY).expanduser()
    if path.exists() and not force:
        raise Conflict(f"{path} exists; use --force to replace it")
    passphrase = read_passphrase(passphrase_stdin, confirm=True)
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    key = keys.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, keys.private_pem(key, passphrase), mode=0o600)
    write_atomic(public_file(path), (keys.public_b64(key) + "\n").encode(), mode=0o644)
    click.echo(f"operator key written to {path} (fingerprint {keys.fingerprint(key)})", err=True)
    click.echo(keys.public_b64(key))


@keys_group.command()
@key_file_option
@passphrase_stdin_option
def show(key_file: str, passphrase_stdin: bool) -> None:
    """Print the key's public key (stdout) and fingerprint (stderr); reads FILE.pub when present."""
    path = Path(key_file).expanduser()
    pub = public_file(path)
    if pub.is_file():
        public = keys.public_from_b64(pub.read_text(encoding="ascii").strip())
    else:
        public = load_operator_key(key_file, passphrase_stdin).public_key()
    click.echo(f"fingerprint {keys.fingerprint(public)}", err=True)
    click.echo(keys.public_b64(public))
