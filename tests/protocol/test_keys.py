"""Ed25519 keys: files, base64url public keys, signatures that never raise, fingerprints."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from borealis.core.errors import ConfigError, InvalidInput
from borealis.protocol import keys


def test_a_key_survives_its_file_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "identity" / "agent.pem"
    key = keys.load_or_create_private(path)
    again = keys.load_or_create_private(path)
    assert keys.public_raw(again) == keys.public_raw(key)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_unreadable_or_wrong_key_file_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="cannot read private key"):
        keys.load_private(broken)
    with pytest.raises(ConfigError, match="cannot read private key"):
        keys.load_private(tmp_path / "missing.pem")


def test_public_keys_round_trip_as_base64url() -> None:
    key = keys.generate()
    text = keys.public_b64(key)
    assert len(text) == 43 and "=" not in text and "+" not in text and "/" not in text
    assert keys.public_raw(keys.public_from_b64(text)) == keys.public_raw(key)


@pytest.mark.parametrize(
    "text", ["", "abc", "!!!!", keys.b64encode(b"x" * 31), keys.b64encode(b"x" * 33), "A" * 5000]
)
def test_a_malformed_public_key_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="32 raw Ed25519 bytes"):
        keys.public_from_b64(text)


def test_signatures_verify_only_for_the_right_key_and_payload() -> None:
    key, other = keys.generate(), keys.generate()
    signature = keys.sign(key, b"payload")
    assert keys.verify(key.public_key(), b"payload", signature)
    assert not keys.verify(key.public_key(), b"payloaD", signature)
    assert not keys.verify(other.public_key(), b"payload", signature)
    tampered = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert not keys.verify(key.public_key(), b"payload", tampered)


@pytest.mark.parametrize("garbage", ["", "***", "A" * 5000, 42, None])
def test_garbage_signatures_are_false_never_an_exception(garbage: object) -> None:
    assert not keys.verify(keys.generate().public_key(), b"payload", garbage)  # type: ignore[arg-type]


def test_the_fingerprint_is_the_sha256_of_the_raw_public_key() -> None:
    key = keys.generate()
    expected = "sha256:" + hashlib.sha256(keys.public_raw(key)).hexdigest()
    assert keys.fingerprint(key) == keys.fingerprint(key.public_key()) == expected


def test_random_tokens_are_url_safe_and_distinct() -> None:
    tokens = {keys.random_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


@pytest.mark.parametrize(
    "raw_hex",
    [
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "ff",  # sign bit set: the same point class
    ],
)
def test_small_order_public_keys_are_refused(raw_hex: str) -> None:
    with pytest.raises(InvalidInput, match="small-order"):
        keys.public_from_b64(keys.b64encode(bytes.fromhex(raw_hex)))


def test_a_real_public_key_is_accepted() -> None:
    public = keys.public_from_b64(keys.public_b64(keys.generate()))
    assert len(keys.public_raw(public)) == 32
