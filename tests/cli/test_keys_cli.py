"""`borealis keys create|show`: an encrypted 0600 operator key, its public key on stdout, one-line
errors for a wrong passphrase, a short one, or a file that exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from borealis.protocol import keys


def borealis(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "borealis", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_create_show_and_load_with_the_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "op.pem"
    made = borealis("keys", "create", "--out", str(path), "--passphrase-stdin", stdin="long enough pass\n")
    assert made.returncode == 0, made.stderr
    public = made.stdout.strip()
    assert keys.public_from_b64(public)
    assert path.stat().st_mode & 0o777 == 0o600 and (path.parent.stat().st_mode & 0o777) == 0o700
    assert keys.fingerprint(keys.load_private(path, b"long enough pass")) in made.stderr

    shown = borealis("keys", "show", "--key", str(path))
    assert shown.returncode == 0 and shown.stdout.strip() == public
    path.with_name("op.pem.pub").unlink()  # without the .pub file, show decrypts the key
    shown = borealis("keys", "show", "--key", str(path), "--passphrase-stdin", stdin="long enough pass\n")
    assert shown.returncode == 0 and shown.stdout.strip() == public

    wrong = borealis("keys", "show", "--key", str(path), "--passphrase-stdin", stdin="wrong pass\n")
    assert wrong.returncode != 0 and wrong.stdout == ""
    assert wrong.stderr.strip().endswith("wrong passphrase or damaged file")

    again = borealis("keys", "create", "--out", str(path), "--passphrase-stdin", stdin="long enough pass\n")
    assert again.returncode != 0 and "exists" in again.stderr
    short = borealis(
        "keys", "create", "--out", str(tmp_path / "b.pem"), "--passphrase-stdin", stdin="short\n"
    )
    assert short.returncode != 0 and "at least 8" in short.stderr
    assert not (tmp_path / "b.pem").exists()
