"""`borealis agent install|repair|remove|launch` (DESIGN §4): the agent as an installed service.

install  enroll (with a code), build `<home>/Agent/venv`, write the service definitions, record them
         in `install.json`, and (on a live system) enable and start the service
repair   re-create whatever is missing or drifted: environment, service files, permissions; never
         the identity
remove   stop and unregister the service, delete its files, then the agent's part of the home
launch   run the installed agent in the foreground (for debugging)

The platform (`agent.platform`) decides file contents and commands; this module writes and runs
them. Every step says what it did through `say`, one line each.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from borealis import __version__
from borealis.agent.clock import utc_now_iso
from borealis.agent.identity import is_enrolled
from borealis.agent.platform import service_platform
from borealis.agent.platform.base import Command, ServicePlatform, ServiceSpec
from borealis.agent.resources import agent_process_alive
from borealis.agent.service import install_venv
from borealis.agent.service.install_manifest import Manifest, read_manifest, venv_path, write_manifest
from borealis.agent.service.supervisor_state import read_record
from borealis.core.errors import ConfigError, Conflict, InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.core.settings import load_agent_settings

Say = Callable[[str], None]
COMMAND_TIMEOUT_S = 120.0
SHARED_MODE = 0o755  # the home and Agent/: a session helper started by autostart reaches Agent/venv
KEPT_BY_KEEP_IDENTITY = ("identity", "agent.toml")


def install(home: Home, *, root: Path | None, server_url: str | None, code: str | None, say: Say) -> None:
    platform = service_platform(root)
    if server_url and not code:
        raise InvalidInput("--server needs --code (the install code says which server to enroll with)")
    _require_privileges(platform)
    existing = read_manifest(home)
    if existing is not None:
        raise Conflict(
            f"the agent is already installed in {home.root} (version {existing.version}); "
            "`borealis agent repair` fixes it, `borealis agent remove` removes it"
        )
    if not code and not is_enrolled(home):
        raise ConfigError(
            f"not enrolled: {home.root} holds no agent identity; give --code (and --server) "
            "or run `borealis agent enroll` first"
        )
    spec = _spec(home, platform)
    _refuse_foreign_files(platform, spec)
    if code:
        _enroll(home, code, server_url, say)
    for folder in (home.root, home.agent):
        ensure_dir(folder).chmod(SHARED_MODE)
    _build_venv(home, platform, say, reason="")
    for line in _fix_permissions(home):
        say(line)
    manifest = Manifest(
        version=__version__,
        installed_at=utc_now_iso(),
        platform=platform.name,
        service=platform.service,
        root=str(root) if root is not None else None,
        venv=str(venv_path(home)),
        python=str(spec.python),
        files=[str(f.path) for f in platform.files(spec)],
        links=[str(link.path) for link in platform.links(spec)],
    )
    manifest.folders = _write_service_files(platform, spec, say)
    write_manifest(home, manifest)
    warning = platform.helper_warning(spec)
    if warning:
        say(warning)
    if platform.live:
        _run_all(platform.activate_commands(spec))
        say(f"enabled and started {platform.service}")
    elif root is None:
        say(f"{platform.name} is not running here: {platform.service} starts with it at the next boot")
        say(f"`borealis agent launch --home {home.root}` runs the agent now")
    say(f"installed borealis {__version__} in {home.root}")


def repair(home: Home, *, root: Path | None, say: Say) -> None:
    manifest = _installed(home, root)
    platform = service_platform(Path(manifest.root) if manifest.root else None)
    _require_privileges(platform)
    spec = _spec(home, platform)
    fixed: list[str] = []
    problem = install_venv.check(spec.python)
    if problem:
        _build_venv(home, platform, fixed.append, reason=problem)
    changed_files = _repair_service_files(platform, spec, manifest, fixed.append)
    fixed += _fix_permissions(home)
    if platform.live:
        if changed_files:
            _run_all(platform.reload_commands())
        if _run(platform.is_active_command()) != 0:
            _run_all(platform.activate_commands(spec))
            fixed.append(f"enabled and started {platform.service} (it was not running)")
    if fixed:
        if problem:  # the environment was rebuilt from this Borealis
            manifest.version = __version__
        manifest.python = str(spec.python)
        manifest.files = [str(f.path) for f in platform.files(spec)]
        manifest.links = [str(link.path) for link in platform.links(spec)]
        write_manifest(home, manifest)
    for line in fixed:
        say(line)
    if not fixed:
        say(f"nothing to repair: the agent in {home.root} is installed and intact")


def remove(home: Home, *, root: Path | None, keep_identity: bool, say: Say) -> None:
    manifest = read_manifest(home)
    if manifest is not None:
        _check_root(manifest, root)
        root = Path(manifest.root) if manifest.root else None
    platform = service_platform(root)
    ours = _our_paths(home, platform, manifest)
    if manifest is None and not ours:
        say(f"nothing to remove: no agent is installed in {home.root}")
        return
    _require_privileges(platform)
    if platform.live:
        _run_all(platform.deactivate_commands())
        say(f"stopped and disabled {platform.service}")
    _refuse_running(home, platform, "remove it")
    for path in ours:
        path.unlink(missing_ok=True)
        say(f"removed {path}")
    for folder in sorted(manifest.folders if manifest else [], key=len, reverse=True):
        with contextlib.suppress(OSError):  # only when empty: something else may have put files there
            Path(folder).rmdir()
            say(f"removed {folder} (empty)")
    if platform.live:
        _run_all(platform.reload_commands())
    _remove_home_files(home, keep_identity, say)


def launch(home: Home, *, startup_delay: bool) -> int:
    """Replace this process with the installed agent (`agent run`); returns its exit code on Windows."""
    manifest = _installed(home, None, check_root=False)
    python = Path(manifest.python)
    if not python.exists():
        raise ConfigError(f"the installed environment is missing ({python}); run `borealis agent repair`")
    _refuse_running(home, service_platform(Path(manifest.root) if manifest.root else None), "launch it here")
    argv = [str(python), "-m", "borealis", "agent", "run", "--home", str(home.root)]
    if not startup_delay:
        argv.append("--no-startup-delay")
    if sys.platform == "win32":
        return subprocess.call(argv)
    os.execv(str(python), argv)  # noqa: S606 - becoming the agent is what launch is for
    raise AssertionError("unreachable: execv returned")  # pragma: no cover


def _installed(home: Home, root: Path | None, *, check_root: bool = True) -> Manifest:
    manifest = read_manifest(home)
    if manifest is None:
        raise ConfigError(
            f"not installed: {home.root} has no Agent/install.json (run `borealis agent install`)"
        )
    if check_root:
        _check_root(manifest, root)
    return manifest


def _check_root(manifest: Manifest, root: Path | None) -> None:
    if root is not None and str(root) != manifest.root:
        where = manifest.root or "the real system"
        raise InvalidInput(f"this agent was installed under {where}, not under --root {root}")


def _require_privileges(platform: ServicePlatform) -> None:
    if platform.root is None:
        problem = platform.privileges_problem()
        if problem:
            raise ConfigError(problem)


def _refuse_foreign_files(platform: ServicePlatform, spec: ServiceSpec) -> None:
    """One agent per machine: a service file that runs another home belongs to another install."""
    for service_file in platform.files(spec):
        with contextlib.suppress(FileNotFoundError):
            text = service_file.path.read_text(encoding="utf-8", errors="replace")
            if not _names_home(text, spec.home):
                raise Conflict(
                    f"{service_file.path} belongs to another Borealis install; remove that one first "
                    "(`borealis agent remove --home <its home>`)"
                )


def _names_home(text: str, home: Path) -> bool:
    return re.search(rf'--home "?{re.escape(str(home))}"?(\s|$)', text) is not None


def _spec(home: Home, platform: ServicePlatform) -> ServiceSpec:
    settings = load_agent_settings(home)
    return ServiceSpec(
        python=platform.venv_python(venv_path(home)),
        home=home.root,
        stop_timeout_s=settings.stop_timeout_s,
        memory_budget_mb=settings.memory_budget_mb,
    )


def _enroll(home: Home, code: str, server_url: str | None, say: Say) -> None:
    from borealis.agent.enrollment import enroll

    result = enroll(home, code, server_url=server_url)
    say(f"enrolled with {result.identity.server_url} as agent {result.identity.agent_id}")
    if result.status == "pending":
        say("the agent waits for an administrator's approval before it can connect")


def _build_venv(home: Home, platform: ServicePlatform, say: Say, reason: str) -> None:
    target = venv_path(home)
    if Path(sys.prefix).resolve() == target.resolve():
        raise ConfigError(
            f"this Borealis runs from {target}, the environment to rebuild; "
            "run the command with another one (e.g. `./Borealis.sh agent …` in a clone)"
        )
    shutil.rmtree(target, ignore_errors=True)
    try:
        install_venv.build(target, platform.venv_python(target))
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    if reason:
        say(f"re-created {target} (it did not work: {reason})")
    else:
        say(f"created {target} (borealis {__version__} and its dependencies, copied from this environment)")


def _write_service_files(platform: ServicePlatform, spec: ServiceSpec, say: Say) -> list[str]:
    """Write every file and link; returns the folders that had to be made for them."""
    made: list[str] = []
    for service_file in platform.files(spec):
        made += _make_parents(service_file.path)
        write_atomic(service_file.path, service_file.content.encode(), mode=service_file.mode)
        service_file.path.chmod(service_file.mode)
        say(f"wrote {service_file.path}")
    for link in platform.links(spec):
        made += _make_parents(link.path)
        link.path.unlink(missing_ok=True)
        link.path.symlink_to(link.target)
        say(f"linked {link.path} -> {link.target}")
    return made


def _make_parents(path: Path) -> list[str]:
    missing = [p for p in path.parents if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    return [str(p) for p in reversed(missing)]


def _repair_service_files(
    platform: ServicePlatform, spec: ServiceSpec, manifest: Manifest, fixed: Say
) -> bool:
    changed = False
    for service_file in platform.files(spec):
        path = service_file.path
        try:
            current: bytes | None = path.read_bytes()
        except FileNotFoundError:
            current = None
        if current is None or current != service_file.content.encode():
            manifest.folders += _make_parents(path)
            write_atomic(path, service_file.content.encode(), mode=service_file.mode)
            fixed(
                f"restored {path} (it was missing)" if current is None else f"rewrote {path} (it had drifted)"
            )
            changed = True
        mode = path.stat().st_mode & 0o7777
        if mode != service_file.mode:
            path.chmod(service_file.mode)
            fixed(f"set {path} to {service_file.mode:04o} (it was {mode:04o})")
    for link in platform.links(spec):
        if not (link.path.is_symlink() and os.readlink(link.path) == link.target):
            manifest.folders += _make_parents(link.path)
            link.path.unlink(missing_ok=True)
            link.path.symlink_to(link.target)
            fixed(f"restored the link {link.path} -> {link.target}")
            changed = True
    return changed


def _fix_permissions(home: Home) -> list[str]:
    """Private parts of the home: folders 0700, files 0600 (the identity, settings, outbox, logs).
    POSIX modes only; on Windows the home's ACLs are the administrator's (not built)."""
    if os.name != "posix":
        return []
    agent = home.agent
    wanted: list[tuple[Path, int]] = [(home.agent_identity, 0o700), (home.agent_toml, 0o600)]
    if home.agent_identity.is_dir():
        wanted += [(p, 0o600) for p in sorted(home.agent_identity.iterdir()) if p.is_file()]
    wanted += [(agent / name, 0o600) for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm")]
    wanted += [(home.agent_state, 0o700), (agent / "tmp", 0o700), (home.agent_logs, 0o700)]
    lines = []
    for path, mode in wanted:
        with contextlib.suppress(FileNotFoundError):
            current = path.stat().st_mode & 0o7777
            if current != mode:
                path.chmod(mode)
                lines.append(f"set {path} to {mode:04o} (it was {current:04o})")
    return lines


def _our_paths(home: Home, platform: ServicePlatform, manifest: Manifest | None) -> list[Path]:
    """Service files and links to delete: the manifest's, and (should it be lost) a unit at the
    platform's place that runs this home, with its links."""
    spec = _spec(home, platform)
    paths = [Path(p) for p in (manifest.files + manifest.links if manifest else [])]
    named = []
    for service_file in platform.files(spec):
        with contextlib.suppress(OSError):
            if _names_home(service_file.path.read_text(encoding="utf-8", errors="replace"), home.root):
                named.append(service_file.path)
    if named:
        paths += named + [link.path for link in platform.links(spec)]
    return list(dict.fromkeys(p for p in paths if p.exists() or p.is_symlink()))


def _remove_home_files(home: Home, keep_identity: bool, say: Say) -> None:
    if home.agent.is_dir():
        if keep_identity:
            for entry in sorted(home.agent.iterdir()):
                if entry.name not in KEPT_BY_KEEP_IDENTITY:
                    _delete(entry)
            say(f"removed {home.agent} except identity/ and agent.toml (--keep-identity)")
        else:
            shutil.rmtree(home.agent)
            say(f"removed {home.agent} (environment, identity, settings, outbox, state)")
    if home.agent_logs.is_dir():
        shutil.rmtree(home.agent_logs)
        say(f"removed {home.agent_logs}")
    for folder in (home.agent_logs.parent, home.root):
        with contextlib.suppress(OSError):  # only when empty: a server may share the home
            folder.rmdir()
            say(f"removed {folder} (empty)")


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _refuse_running(home: Home, platform: ServicePlatform, doing: str) -> None:
    record = read_record(home)
    if record is not None and record.state != "stopped" and agent_process_alive(record.pid):
        raise Conflict(
            f"the agent is running (supervisor pid {record.pid}); stop it before you {doing} "
            f"(`{platform.stop_hint()}`, or Ctrl-C where it was launched)"
        )


def _run_all(commands: list[Command]) -> None:
    for command in commands:
        _run(command)


def _run(command: Command) -> int:
    try:
        done = subprocess.run(command.argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"`{command}` failed: {exc}") from exc
    if command.check and done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise ConfigError(f"`{command}` failed: {reason}")
    return done.returncode
