"""Writes the server's OpenAPI document as JSON without running a server: `python -m
borealis.server.openapi_dump [FILE]` (stdout without FILE). The console's API types are generated from it."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson


def openapi_document() -> dict[str, Any]:
    from borealis.core.home import Home
    from borealis.core.settings import ServerSettings
    from borealis.server.app import create_app

    with tempfile.TemporaryDirectory(prefix="borealis-openapi-") as home:
        settings = ServerSettings(home=Home(Path(home)))
        document: dict[str, Any] = create_app(settings).openapi()
    return document


def main(argv: list[str]) -> int:
    data = orjson.dumps(openapi_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if argv:
        Path(argv[0]).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
