"""Installs a verified agent wheel into its own virtual environment beside the running one.

Offline by design: `python -m venv --without-pip`, then a `.pth` file that puts the base
environment's site-packages (where the dependencies live) after the new environment's own, then
`pip install --no-deps --no-index --ignore-installed <wheel>` with the running environment's pip
aimed at the new interpreter (`pip --python`; when the running environment has no pip, the new one
gets its own from `ensurepip`, which is bundled). A last check imports the new worker with the new
interpreter and compares its `__version__` with the one offered. All subprocesses are asyncio, under
a deadline; nothing blocks the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import shutil
import sys
import sysconfig
from pathlib import Path

from borealis.agent.self_update.state import interpreter, mark_complete, version_dir
from borealis.core.errors import BorealisError
from borealis.core.home import Home

BASE_PTH = "_borealis_base.pth"
STEP_TIMEOUT_S = 300.0
MAX_OUTPUT_CHARS = 800
CHECK_CODE = "import borealis, borealis.agent.worker; print(borealis.__version__)"


class InstallFailed(BorealisError):
    """The new environment could not be made or does not hold the offered version."""


def base_site_paths() -> list[str]:
    """Where the dependencies come from: the base environment's site-packages. A worker that itself
    runs from an installed version passes its own base paths on, so chains never nest."""
    purelib, platlib = sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]
    inherited = Path(purelib) / BASE_PTH
    if inherited.is_file():
        return [line for line in inherited.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys([purelib, platlib]))


def site_packages(env: Path) -> Path:
    """The site-packages of a new environment made by this interpreter's `venv`."""
    scheme = "nt_venv" if sys.platform == "win32" else "venv"
    paths = sysconfig.get_paths(scheme, vars={"base": str(env), "platbase": str(env)})
    return Path(paths["purelib"])


async def install_version(home: Home, version: str, wheel: Path) -> Path:
    """Install `wheel` as `<home>/Agent/versions/<version>/`; returns the environment. A half-made
    environment from an earlier attempt is replaced, a failed one removed; the marker is written last."""
    env = version_dir(home, version)
    await asyncio.to_thread(shutil.rmtree, env, True)
    try:
        await _build(env, wheel, version)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, env, True)
        raise
    await asyncio.to_thread(mark_complete, home, version)
    return env


async def _build(env: Path, wheel: Path, version: str) -> None:
    has_pip = importlib.util.find_spec("pip") is not None
    venv_args = ["--without-pip"] if has_pip else []
    await _run([sys.executable, "-m", "venv", *venv_args, str(env)], "creating the environment")
    python = interpreter(env)
    pth = site_packages(env) / BASE_PTH
    await asyncio.to_thread(pth.write_text, "\n".join(base_site_paths()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)] if has_pip else [str(python), "-m", "pip"]
    options = ["--no-deps", "--no-index", "--ignore-installed", "--no-cache-dir"]
    quiet = ["--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    await _run([*pip, "install", *options, *quiet, str(wheel)], "installing the wheel")
    found = (await _run([str(python), "-I", "-c", CHECK_CODE], "checking the new version")).strip()
    if found != version:
        raise InstallFailed(f"the wheel holds agent version {found[:64]!r}, not {version!r}")


async def _run(command: list[str], what: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise InstallFailed(f"{what} took longer than {STEP_TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        detail = (err or out).decode(errors="replace").strip()[-MAX_OUTPUT_CHARS:]
        raise InstallFailed(f"{what} failed (exit code {process.returncode}): {detail}")
    return out.decode(errors="replace")
