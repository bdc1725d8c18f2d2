"""A stand-in worker for supervisor tests: `python fake_worker.py MODE`.

beat      writes a beat line every 0.1 s; exits 0 on SIGTERM
crash     three beats, then exit code 3
silent    never writes a beat (a hang)
fat       holds ~60 MiB and beats
stubborn  beats and ignores SIGTERM
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main(mode: str) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else lambda *_: sys.exit(0))
    ballast = bytearray(60 * 1024 * 1024) if mode == "fat" else b""
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # type: ignore[index]
    ready = os.environ.get("FAKE_WORKER_READY")
    if ready:  # tests wait for this, so signals they send find the handler installed
        with open(ready, "a") as marker:
            marker.write(f"{os.getpid()}\n")
    beats = 0
    while True:
        if mode != "silent":
            os.write(1, b"beat\n")
            beats += 1
        if mode == "crash" and beats >= 3:
            return 3
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
