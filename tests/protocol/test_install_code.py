"""The install code an operator pastes: one string carrying the server URL, key fingerprint and secret."""

from __future__ import annotations

import pytest

from borealis.core.errors import InvalidInput
from borealis.protocol import keys
from borealis.protocol.install_code import PREFIX, InstallCode

CODE = InstallCode("https://rmm.example:5000", "sha256:" + "ab" * 32, "s3cret-value")


def test_a_code_round_trips_and_survives_whitespace_from_copy_and_paste() -> None:
    text = CODE.encode()
    assert text.startswith("BRL1-") and " " not in text
    assert InstallCode.decode(text) == CODE
    assert InstallCode.decode(f"  {text}\n") == CODE


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "starts with BRL1-"),
        ("BRL2-abc", "starts with BRL1-"),
        (PREFIX + "x" * 3000, "starts with BRL1-"),
        (CODE.encode()[:-6], "damaged"),
        (PREFIX + "!!!!", "damaged"),
        (PREFIX + keys.b64encode(b'{"u": "x", "f": "sha256:1"}'), "damaged"),
        (PREFIX + keys.b64encode(b'{"u": "x", "f": "md5:1", "s": "s"}'), "damaged"),
        (PREFIX + keys.b64encode(b'{"u": "x", "f": "sha256:1", "s": ""}'), "damaged"),
        (PREFIX + keys.b64encode(b"[1, 2]"), "damaged"),
    ],
)
def test_a_bad_code_says_what_to_do(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        InstallCode.decode(text)
