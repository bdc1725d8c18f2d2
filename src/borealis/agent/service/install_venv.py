"""The installed agent's own virtual environment, `<home>/Agent/venv`, built by copying.

`agent install` always runs from a Borealis that works, so the environment it runs in already holds
every distribution Borealis needs, built for this interpreter. The new environment gets copies of
exactly those (the requirements of `borealis`, followed through their extras, as this environment
resolved them) plus pip, and a copy of the `borealis` package itself with fresh metadata. That needs
no network and no compiler, takes seconds, installs the versions that were tested together, and
leaves nothing pointing back at the source tree or the old environment. The new environment's
interpreter is the same base Python (a venv links to it), so compiled extensions stay valid.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from base64 import urlsafe_b64encode
from pathlib import Path, PurePosixPath

import borealis
from borealis.core.errors import ConfigError

INSTALLER_NAME = "borealis-agent-install"
CHECK_TIMEOUT_S = 120.0
# What the installed agent must be able to import: the CLI, the supervisor, the worker, enrollment.
CHECK_IMPORTS = "import borealis.cli.main, borealis.agent.service.supervisor, borealis.agent.worker, borealis.agent.enrollment"
EXTRA_DISTRIBUTIONS = ("pip",)  # so an update can install a wheel into the environment later
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def build(target: Path, python_path: Path) -> None:
    """Create the environment at `target` (which must not exist) and copy Borealis into it."""
    venv.EnvBuilder(with_pip=False, symlinks=sys.platform != "win32", clear=False).create(target)
    site = site_packages(target)
    for dist in required_distributions():
        _copy_distribution(dist, site)
    for name in EXTRA_DISTRIBUTIONS:
        try:
            _copy_distribution(metadata.distribution(name), site)
        except metadata.PackageNotFoundError:
            continue
    _copy_borealis(site)
    problem = check(python_path)
    if problem:
        raise ConfigError(f"the new environment in {target} does not work: {problem}")


def check(python_path: Path) -> str:
    """Why the environment's interpreter cannot run the agent; empty when it can."""
    if not python_path.exists():
        return f"{python_path} is missing"
    try:
        done = subprocess.run(
            [str(python_path), "-c", CHECK_IMPORTS], capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python_path} does not start: {exc}"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit code {done.returncode}"
    return ""


def site_packages(target: Path) -> Path:
    return Path(
        sysconfig.get_path("purelib", scheme="venv", vars={"base": str(target), "platbase": str(target)})
    )


def required_distributions() -> list[metadata.Distribution]:
    """What `borealis` needs, transitively, as installed here (markers were evaluated by the installer
    of this environment: a requirement whose distribution is absent was left out by its marker)."""
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [("borealis", frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (_normal(name), extras) in seen:
            continue
        seen.add((_normal(name), extras))
        dist = metadata.distribution(name)
        if _normal(name) != "borealis":
            found[_normal(name)] = dist
        for requirement in dist.requires or []:
            wanted = _wanted(requirement, extras)
            if wanted is None:
                continue
            dependency, dependency_extras, unconditional = wanted
            try:
                metadata.distribution(dependency)
            except metadata.PackageNotFoundError:
                if unconditional:
                    raise ConfigError(
                        f"this environment lacks {dependency}, which {name} needs; reinstall Borealis here first"
                    ) from None
                continue
            pending.append((dependency, dependency_extras))
    return sorted(found.values(), key=lambda d: _normal(d.metadata["Name"]))


def _wanted(requirement: str, extras: frozenset[str]) -> tuple[str, frozenset[str], bool] | None:
    """(name, extras, unconditional) of a `Requires-Dist` line, or None when it serves another extra."""
    head, _, marker = requirement.partition(";")
    match = _REQUIREMENT.match(head)
    if match is None:
        return None
    needs_extra = {_normal(e) for e in _EXTRA_MARKER.findall(marker)}
    if needs_extra and not needs_extra & {_normal(e) for e in extras}:
        return None
    wanted_extras = frozenset(e.strip() for e in (match[2] or "").split(",") if e.strip())
    return match[1], wanted_extras, not marker.strip()


def _copy_distribution(dist: metadata.Distribution, site: Path) -> None:
    """Every file the distribution's RECORD lists inside its site-packages (scripts are not needed)."""
    files = dist.files
    if files is None:
        raise ConfigError(f"cannot copy {dist.metadata['Name']}: it was installed without a RECORD file")
    for entry in files:
        relative = PurePosixPath(str(entry))
        if ".." in relative.parts or relative.is_absolute():
            continue
        source = Path(str(dist.locate_file(entry)))
        if not source.is_file():
            continue
        destination = site.joinpath(*relative.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _copy_borealis(site: Path) -> None:
    """The package from wherever it runs (a source tree or an install), and its own metadata."""
    package = Path(borealis.__file__).parent
    target = site / "borealis"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = metadata.distribution("borealis")
    info = site / f"borealis-{borealis.__version__}.dist-info"
    info.mkdir()
    for name in ("METADATA", "entry_points.txt", "top_level.txt"):
        text = dist.read_text(name)
        if text is not None:
            (info / name).write_text(text, encoding="utf-8")
    (info / "INSTALLER").write_text(INSTALLER_NAME + "\n", encoding="utf-8")
    rows = [_record_row(path, site) for path in sorted(target.rglob("*")) if path.is_file()]
    rows += [_record_row(path, site) for path in sorted(info.iterdir())]
    rows.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _record_row(path: Path, site: Path) -> str:
    data = path.read_bytes()
    digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(site).as_posix()},sha256={digest},{len(data)}"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
