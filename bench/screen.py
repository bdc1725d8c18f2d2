"""Screen benchmarks (docs/performance.md): a 1920×1080 Xvfb desktop, a real server, a real agent and
its user-session helper running as a throwaway user.

    sudo .venv/bin/python bench/screen.py [--seconds 10] [--shots 10]

Measures: screenshot job end to end (submit → image stored and served), PNG and JPEG; live view on an
idle and on a changing screen (frames/s, bytes/s, helper + worker CPU and RSS, server CPU per relayed
frame); OCR node work on a whole 1920×1080 capture and on a 400×100 region. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pwd
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.agent_process import AgentProcess
from tests.agent.desktop import message_window, xvfb
from tests.conftest import running_server
from tests.support import wait_for

from borealis.engine import images

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"}


def processes(uid: int, agent_home: Path) -> dict[str, psutil.Process]:
    found: dict[str, psutil.Process] = {}
    for p in psutil.process_iter(["uids", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "borealis.agent.user_session.helper" in cmd and p.info["uids"] and p.info["uids"].real == uid:
            found["helper"] = p
        elif "borealis.agent.worker" in cmd and str(agent_home) in cmd:
            found["worker"] = p
    return found


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def shot(api: httpx.Client, agent_id: str, **params: Any) -> float:
    began = time.monotonic()
    job = api.post(
        "/api/v1/jobs",
        json={
            "role": "screenshot",
            "params": params,
            "run_as": "user",
            "target": {"agents": [agent_id]},
            "timeout_s": 60,
        },
    ).json()["id"]
    row = wait_for(
        lambda: (r := api.get(f"/api/v1/jobs/{job}").json()["results"][0])["status"] in FINAL and r, 60, 0.02
    )
    assert row["status"] == "succeeded", row
    assert api.get(f"/api/v1/jobs/{job}/results/{agent_id}/image").status_code == 200
    return time.monotonic() - began


def live(
    server: Any,
    api: httpx.Client,
    agent_id: str,
    seconds: float,
    procs: dict[str, psutil.Process],
    server_proc: psutil.Process,
) -> dict[str, Any]:
    session = api.post(f"/api/v1/agents/{agent_id}/screen", json={"fps": 10, "quality": 70}).json()
    frames: list[int] = []
    stop = threading.Event()

    def read() -> None:
        with (
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=None
            ) as c,
            c.stream("GET", session["stream_url"]) as response,
        ):
            for chunk in response.iter_raw():
                frames.append(len(chunk))
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(2.0)  # settle
    start_cpu = {k: cpu_s(p) for k, p in procs.items()}
    server_cpu = cpu_s(server_proc)
    audit_before = len(frames)
    bytes_before = sum(frames)
    began = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    used = {k: (cpu_s(p) - start_cpu[k]) / elapsed * 100 for k, p in procs.items()}
    server_used = cpu_s(server_proc) - server_cpu
    received = sum(frames) - bytes_before
    stop.set()
    api.delete(session["stream_url"])
    reader.join(5)
    parts = max(0, len(frames) - audit_before)
    status = api.get("/metrics").text
    return {
        "bytes_per_s": round(received / elapsed),
        "chunks": parts,
        "cpu_pct": {k: round(v, 1) for k, v in used.items()},
        "rss_mib": {k: round(p.memory_info().rss / 2**20, 1) for k, p in procs.items()},
        "server_cpu_s": round(server_used, 3),
        "metrics_ok": "borealis" in status,
    }


def count_frames(api: httpx.Client, agent_id: str) -> int:
    items = api.get("/api/v1/audit", params={"target": agent_id, "action": "screen.view.end"}).json()["items"]
    return int(items[0]["detail"]["frames"]) if items else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--shots", type=int, default=10)
    args = parser.parse_args()
    user = "brlbench" + uuid.uuid4().hex[:6]
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
    uid = pwd.getpwnam(user).pw_uid
    result: dict[str, Any] = {"bench": "screen", "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count()}
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            xvfb(1920, 1080) as display,
            running_server(Path(tmp) / "server", "") as server,
            message_window(display, "DISK 93% FULL"),
        ):
            agent = AgentProcess(Path(tmp) / "agent", helper_user=user, helper_display=display)
            assert agent.enroll(server.install_code()).returncode == 0
            agent.start()
            api = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
            )
            wait_for(lambda: api.get(f"/api/v1/agents/{agent.agent_id}").json()["status"] == "online", 20)
            shot(api, agent.agent_id)  # the helper starts
            for fmt in ("png", "jpeg"):
                times = sorted(shot(api, agent.agent_id, format=fmt) for _ in range(args.shots))
                result[f"screenshot_{fmt}_s"] = {
                    "median": round(times[len(times) // 2], 3),
                    "max": round(times[-1], 3),
                }
            procs = processes(uid, agent.home.root)
            server_proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
            result["live_idle"] = live(server, api, agent.agent_id, args.seconds, procs, server_proc)
            result["live_idle"]["frames"] = count_frames(api, agent.agent_id)
            flip = subprocess.Popen(
                [
                    "sh",
                    "-c",
                    "while true; do for c in '#204060' '#406020' '#602040' '#606060' '#123456'; do "
                    "xsetroot -solid $c; sleep 0.05; done; done",
                ],
                env={**os.environ, "DISPLAY": display},
            )
            try:
                changing = live(server, api, agent.agent_id, args.seconds, procs, server_proc)
            finally:
                flip.kill()
            changing["frames"] = count_frames(api, agent.agent_id)
            changing["fps"] = round(changing["frames"] / (args.seconds + 2), 1)
            changing["server_cpu_ms_per_frame"] = round(
                changing["server_cpu_s"] * 1000 / max(1, changing["frames"]), 2
            )
            result["live_changing"] = changing
            capture = api.post(
                "/api/v1/jobs",
                json={
                    "role": "screenshot",
                    "params": {},
                    "run_as": "user",
                    "target": {"agents": [agent.agent_id]},
                },
            ).json()["id"]
            wait_for(lambda: api.get(f"/api/v1/jobs/{capture}").json()["results"][0]["status"] in FINAL, 30)
            full = Image.open(
                io.BytesIO(api.get(f"/api/v1/jobs/{capture}/results/{agent.agent_id}/image").content)
            )
            full.load()
            agent.stop()
        for name, image in (("ocr_1920x1080_s", full), ("ocr_400x100_s", full.crop((0, 0, 400, 100)))):
            began = time.monotonic()
            images.ocr(image, "eng", 0)
            result[name] = round(time.monotonic() - began, 3)
    finally:
        for p in psutil.process_iter(["uids"]):
            if p.info["uids"] and p.info["uids"].real == uid:
                p.kill()
        subprocess.run(["userdel", user], check=False)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
