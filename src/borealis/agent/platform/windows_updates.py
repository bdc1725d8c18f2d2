"""Pending Windows updates through the Windows Update Agent's COM API.

The search runs in PowerShell (`Microsoft.Update.Session` → `IUpdateSearcher.Search`) and prints
one JSON object; `parse_search_result` turns it into items of the shape of `inventory.updates`
(manager `windows-update`). The parsing is tested on Linux with captured output; the search itself
has not been run on Windows yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
from enum import IntEnum
from typing import Any

from borealis.core.errors import ConfigError, TransientError

SEARCH_CRITERIA = "IsInstalled=0 and IsHidden=0 and Type='Software'"
SEARCH_TIMEOUT_S = 600.0
SECURITY_CATEGORIES = frozenset({"security updates", "critical updates"})

SEARCH_SCRIPT = f"""
$ErrorActionPreference = 'Stop'
$session = New-Object -ComObject Microsoft.Update.Session
$result = $session.CreateUpdateSearcher().Search("{SEARCH_CRITERIA}")
$updates = @(foreach ($u in $result.Updates) {{
  [pscustomobject]@{{
    Title = $u.Title
    UpdateID = $u.Identity.UpdateID
    RevisionNumber = $u.Identity.RevisionNumber
    KBArticleIDs = @($u.KBArticleIDs)
    MsrcSeverity = $u.MsrcSeverity
    Categories = @($u.Categories | ForEach-Object {{ $_.Name }})
    RebootBehavior = $u.InstallationBehavior.RebootBehavior
    IsDownloaded = $u.IsDownloaded
  }}
}})
[Console]::OutputEncoding = [Text.Encoding]::UTF8
ConvertTo-Json -Depth 4 -Compress -InputObject ([pscustomobject]@{{ ResultCode = [int]$result.ResultCode; Updates = $updates }})
"""


class OperationResult(IntEnum):
    """OperationResultCode of the Windows Update Agent."""

    NOT_STARTED = 0
    IN_PROGRESS = 1
    SUCCEEDED = 2
    SUCCEEDED_WITH_ERRORS = 3
    FAILED = 4
    ABORTED = 5


def search_command() -> list[str]:
    return [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        SEARCH_SCRIPT,
    ]


def parse_search_result(text: str) -> list[dict[str, Any]]:
    """The search's JSON; raises TransientError when the search did not succeed."""
    try:
        result = json.loads(text)
    except ValueError as exc:
        raise TransientError("the Windows Update search printed something that is not JSON") from exc
    if not isinstance(result, dict):
        raise TransientError("the Windows Update search printed no result object")
    code = result.get("ResultCode")
    if code not in (OperationResult.SUCCEEDED, OperationResult.SUCCEEDED_WITH_ERRORS):
        known = {c.value: c.name.lower() for c in OperationResult}
        name = known.get(code, "unknown") if isinstance(code, int) else "missing"
        raise TransientError(f"the Windows Update search did not succeed (result code {code}: {name})")
    items = [_item(update) for update in _as_list(result.get("Updates")) if isinstance(update, dict)]
    return sorted((i for i in items if i is not None), key=lambda u: u["name"])


def list_updates() -> list[dict[str, Any]]:
    """Search for pending updates (Windows only)."""
    if sys.platform != "win32":
        raise ConfigError("Windows Update exists only on Windows")
    try:
        done = subprocess.run(search_command(), capture_output=True, timeout=SEARCH_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"the Windows Update search took longer than {SEARCH_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise TransientError(f"the Windows Update search failed: {first}")
    return parse_search_result(done.stdout.decode("utf-8-sig", "replace"))


def _item(update: dict[str, Any]) -> dict[str, Any] | None:
    title = str(update.get("Title") or "").strip()
    if not title:
        return None
    kbs = [f"KB{kb}" for kb in _as_list(update.get("KBArticleIDs")) if str(kb).strip()]
    categories = [str(c) for c in _as_list(update.get("Categories"))]
    severity = str(update.get("MsrcSeverity") or "").strip() or None
    revision = update.get("RevisionNumber")
    return {
        "name": title,
        "arch": None,
        "current_version": None,
        "candidate_version": ",".join(kbs) or (f"revision {revision}" if revision is not None else None),
        "origin": ", ".join(categories) or "Windows Update",
        "security": severity is not None or any(c.lower() in SECURITY_CATEGORIES for c in categories),
        "manager": "windows-update",
        "severity": severity,
        "reboot_may_be_required": update.get("RebootBehavior") not in (0, None),
        "downloaded": bool(update.get("IsDownloaded")),
    }


def _as_list(value: Any) -> list[Any]:
    """ConvertTo-Json writes a one-element array as the element itself and an empty one as null."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
