"""Small shared pieces: durations as operators type them, the JSON codec, time-ordered ids."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from borealis.core.codec import dumps, dumps_bytes, loads
from borealis.core.errors import InvalidInput
from borealis.core.ids import new_id
from borealis.core.timeparse import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("24h", 86400),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("45", 45),
        (" 7 d ", 604800),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "d", "5x", "1.5h", "-3h", "h24", "1h30m", "9999999999d"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration(text)


def test_zero_is_not_a_duration() -> None:
    with pytest.raises(InvalidInput, match="positive"):
        parse_duration("0h")


def test_codec_round_trips_and_refuses_bad_json_as_invalid_input() -> None:
    value = {"a": [1, 2.5, None, True], "ü": "✓"}
    assert loads(dumps(value)) == value
    assert loads(dumps_bytes(value)) == value
    for bad in ("{", "", "NaN", b"\xff"):
        with pytest.raises(InvalidInput, match="not valid JSON"):
            loads(bad)


def test_ids_are_32_hex_characters_unique_and_time_ordered() -> None:
    first = new_id()
    time.sleep(0.002)
    ids = [new_id() for _ in range(1000)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 1000
    assert all(first < i for i in ids)
