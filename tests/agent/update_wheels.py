"""Agent wheels made by the tests: this checkout's `borealis` package under another version.

Written straight into a zip (METADATA, WHEEL, RECORD with hashes), which takes a fraction of a
second where `pip wheel` takes several; pip installs it like any other wheel. Variants: a worker that
exits at once, a worker that runs but never connects (two "new versions" that must be rolled back),
and incompressible padding so the wheel needs several chunks to download.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from pathlib import Path

import borealis

SOURCE = Path(borealis.__file__).resolve().parent
WORKER_MAIN = b'if __name__ == "__main__":\n    sys.exit(main(sys.argv[1:]))\n'
CONNECTION_RUN = b"    async def run(self, stop: asyncio.Event) -> SessionOutcome:\n"
NEVER_CONNECT = (
    b"        await stop.wait()  # test wheel: this version never connects\n        return SessionOutcome()\n"
)


def build_agent_wheel(
    out_dir: Path,
    version: str,
    *,
    worker_exit_code: int | None = None,
    padding_bytes: int = 0,
    metadata_name: str = "borealis",
    never_connects: bool = False,
    code_version: str | None = None,
) -> Path:
    """`code_version`: the `__version__` inside, when it must differ from the wheel's METADATA."""
    path = out_dir / f"borealis-{version}-py3-none-any.whl"
    dist_info = f"borealis-{version}.dist-info"
    records: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:

        def add(name: str, data: bytes) -> None:
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")

        for file in sorted(SOURCE.rglob("*")):
            if file.is_dir() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            name = "borealis/" + file.relative_to(SOURCE).as_posix()
            data = file.read_bytes()
            if name == "borealis/__init__.py":
                inside = code_version or version
                data = re.sub(rb'__version__ = "[^"]*"', f'__version__ = "{inside}"'.encode(), data)
            if name == "borealis/agent/worker.py" and worker_exit_code is not None:
                assert WORKER_MAIN in data, "the worker's main block changed; update the test wheel"
                data = data.replace(
                    WORKER_MAIN, f'if __name__ == "__main__":\n    sys.exit({worker_exit_code})\n'.encode()
                )
            if name == "borealis/agent/link/connection.py" and never_connects:
                assert CONNECTION_RUN in data, "Connection.run changed; update the test wheel"
                data = data.replace(CONNECTION_RUN, CONNECTION_RUN + NEVER_CONNECT)
            add(name, data)
        if padding_bytes:
            add("borealis/_test_padding.bin", os.urandom(padding_bytes))
        add(
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: {metadata_name}\nVersion: {version}\n".encode(),
        )
        add(
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: borealis-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        records.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return path
