"""The console's initial JavaScript: the entry script and the chunks `index.html` preloads, gzip-sized.

    cd web && npm run build && cd .. && python bench/console_bundle.py [--limit-kb 250]

Prints one JSON line; exits 1 when the total is above the limit (DESIGN target: 250 KB gzip).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

DIST = Path(__file__).resolve().parents[1] / "src" / "borealis" / "server" / "console_dist"


def initial_scripts(dist: Path) -> list[Path]:
    index = (dist / "index.html").read_text()
    names = re.findall(r'<script[^>]+src="/([^"]+\.js)"', index)
    names += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="/([^"]+\.js)"', index)
    return [dist / name for name in dict.fromkeys(names)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--limit-kb", type=float, default=250.0)
    args = parser.parse_args(argv)
    if not (args.dist / "index.html").is_file():
        print("the console is not built: cd web && npm ci && npm run build", file=sys.stderr)
        return 2
    files = initial_scripts(args.dist)
    sizes = {f.name: len(gzip.compress(f.read_bytes(), 9)) for f in files}
    every = {f.name: len(gzip.compress(f.read_bytes(), 9)) for f in (args.dist / "assets").glob("*.js")}
    total_kb = sum(sizes.values()) / 1000
    print(
        json.dumps(
            {
                "initial_js_gzip_kb": round(total_kb, 1),
                "initial_files": {k: round(v / 1000, 1) for k, v in sizes.items()},
                "all_js_gzip_kb": round(sum(every.values()) / 1000, 1),
                "limit_kb": args.limit_kb,
            }
        )
    )
    return 0 if total_kb <= args.limit_kb else 1


if __name__ == "__main__":
    raise SystemExit(main())
