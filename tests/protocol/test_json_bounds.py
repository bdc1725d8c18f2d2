"""The byte-level shape check agrees with the parsed document, whatever its strings hold."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from borealis.protocol.json_bounds import JsonLimits, JsonOverLimits, check_json, deeper_than


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


# Strings full of what breaks a naive scan: quotes, backslashes, brackets, control characters.
tricky_text = st.text(alphabet=st.sampled_from('ab"\\[]{},\n\t\x1b\x00é'), max_size=12)
documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(documents, st.integers(min_value=0, max_value=8))
def test_deeper_than_agrees_with_the_parsed_depth(document: Any, limit: int) -> None:
    assert deeper_than(orjson.dumps(document), limit) == (depth(document) > limit)


@pytest.mark.parametrize(
    "text",
    [
        "line one\nline two",  # a process's command line with a newline (found on a CI machine)
        'say "[[[[" then \\',
        "\x1b[0m colour",
        "tab\tand ]]]] closing",
    ],
)
def test_escapes_inside_strings_do_not_count_as_nesting(text: str) -> None:
    raw = orjson.dumps([{"cmdline": text}, {"name": "x", "args": [text, text]}])
    assert not deeper_than(raw, 3)
    assert deeper_than(raw, 2)


def test_a_document_over_the_limits_is_refused_with_the_reason() -> None:
    limits = JsonLimits(max_bytes=1000, max_containers=50, max_values=200, max_depth=4)
    check_json(orjson.dumps([[[["ok\n"]]]]), limits)
    with pytest.raises(JsonOverLimits, match="nested deeper than 4"):
        check_json(orjson.dumps([[[[["too deep"]]]]]), limits)
    with pytest.raises(JsonOverLimits, match="objects and arrays"):
        check_json(orjson.dumps([[] for _ in range(60)]), limits)
    with pytest.raises(JsonOverLimits, match="bytes of JSON"):
        check_json(orjson.dumps("x" * 2000), limits)
