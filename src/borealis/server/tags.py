"""Tags on agents and install codes: short, lower-case, de-duplicated."""

from __future__ import annotations

import re

from borealis.core.errors import InvalidInput

TAG = re.compile(r"^[a-z0-9][a-z0-9._:/-]{0,63}$")
MAX_TAGS = 64


def clean_tags(values: list[str]) -> list[str]:
    tags: list[str] = []
    for value in values:
        tag = value.strip().lower()
        if not TAG.match(tag):
            raise InvalidInput(f"tag {value!r}: 1-64 of a-z, 0-9, '.', '_', ':', '/', '-'", field="tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags")
    return tags
