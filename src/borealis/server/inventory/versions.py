"""Package version ordering as the distributions define it: Debian's (dpkg) and RPM's (rpmvercmp).

`compare(a, b, source)` answers <0, 0 or >0. A `source` of "rpm" uses RPM's ordering; anything else
("dpkg", or a source with no ordering of its own, such as the Windows registry) uses Debian's, which
orders plain dotted versions the way people expect.
"""

from __future__ import annotations

from dataclasses import dataclass


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_alpha(char: str) -> bool:
    return "a" <= char <= "z" or "A" <= char <= "Z"


# -- Debian (deb-version(7), dpkg's verrevcmp) -------------------------------------------------------


@dataclass(frozen=True)
class DebVersion:
    epoch: int
    upstream: str
    revision: str


def parse_deb(version: str) -> DebVersion:
    """`[epoch:]upstream[-revision]`; an epoch that is not a number counts as part of the upstream."""
    epoch = 0
    rest = version.strip()
    head, colon, tail = rest.partition(":")
    if colon and head.isdigit():
        epoch, rest = int(head), tail
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return DebVersion(epoch, upstream, revision)


def _deb_order(char: str) -> int:
    """Where a character sorts in a non-digit run: `~` before the end, the end before letters,
    letters before everything else."""
    if char == "":
        return 0
    if char == "~":
        return -1
    if _is_digit(char):
        return 0
    if _is_alpha(char):
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            left = _deb_order(a[i] if i < len(a) else "")
            right = _deb_order(b[j] if j < len(b) else "")
            if left != right:
                return left - right
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        first_diff = 0
        while i < len(a) and _is_digit(a[i]) and j < len(b) and _is_digit(b[j]):
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and _is_digit(a[i]):
            return 1
        if j < len(b) and _is_digit(b[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def compare_deb(a: str, b: str) -> int:
    left, right = parse_deb(a), parse_deb(b)
    if left.epoch != right.epoch:
        return -1 if left.epoch < right.epoch else 1
    return _sign(_verrevcmp(left.upstream, right.upstream)) or _sign(
        _verrevcmp(left.revision, right.revision)
    )


# -- RPM (rpmvercmp, with `~` and `^`) ---------------------------------------------------------------


def rpmvercmp(a: str, b: str) -> int:
    """RPM's comparison of one version or release string (not an `epoch:version-release`)."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip_separators(a, i), _skip_separators(b, j)
        mark = _rpm_marks(a, i, b, j)
        if mark is not None:
            if mark:
                return mark
            i, j = i + 1, j + 1
            continue
        if i >= len(a) or j >= len(b):
            break
        order, i, j = _rpm_segments(a, i, b, j)
        if order:
            return order
    if i >= len(a) and j >= len(b):
        return 0
    return 1 if i < len(a) else -1


def _skip_separators(s: str, i: int) -> int:
    while i < len(s) and not (_is_digit(s[i]) or _is_alpha(s[i]) or s[i] in "~^"):
        i += 1
    return i


def _rpm_marks(a: str, i: int, b: str, j: int) -> int | None:
    """The order a `~` or `^` at `a[i]` or `b[j]` decides: -1 or 1; 0 when both have the same mark
    (step over it); None when neither has one."""
    a_tilde, b_tilde = a.startswith("~", i), b.startswith("~", j)
    if a_tilde or b_tilde:  # a tilde sorts before everything, even the end
        return int(b_tilde) - int(a_tilde)
    a_caret, b_caret = a.startswith("^", i), b.startswith("^", j)
    if a_caret or b_caret:  # a caret sorts after the end, before anything else
        if i >= len(a):
            return -1
        if j >= len(b):
            return 1
        return int(b_caret) - int(a_caret)
    return None


def _rpm_segments(a: str, i: int, b: str, j: int) -> tuple[int, int, int]:
    """The order of the digit or letter runs at `a[i]` and `b[j]`, and where each run ends."""
    numeric = _is_digit(a[i])
    same_kind = _is_digit if numeric else _is_alpha
    start_a, start_b = i, j
    while i < len(a) and same_kind(a[i]):
        i += 1
    while j < len(b) and same_kind(b[j]):
        j += 1
    left, right = a[start_a:i], b[start_b:j]
    if not right:  # segments of different kinds: a number is newer than letters
        return (1 if numeric else -1), i, j
    if numeric:
        left, right = left.lstrip("0"), right.lstrip("0")
        if len(left) != len(right):
            return (1 if len(left) > len(right) else -1), i, j
    if left != right:
        return (1 if left > right else -1), i, j
    return 0, i, j


def compare_rpm(a: str, b: str) -> int:
    """`[epoch:]version[-release]`, ordered as rpm orders full EVRs (rpmVersionCompare on headers):
    epoch, then version, then release, each by `rpmvercmp`; a missing release is the empty string,
    which sorts before every release (`1.0` < `1.0-1` < `1.0-2`). rpm's dependency matching instead
    skips the release when one side names none, which makes `1.0-1` = `1.0` = `1.0-2` while
    `1.0-1` < `1.0-2`: not an order, so one fleet search could disagree with itself."""
    left, right = parse_deb(a), parse_deb(b)  # the same shape: epoch, then the last '-'
    if left.epoch != right.epoch:
        return -1 if left.epoch < right.epoch else 1
    return rpmvercmp(left.upstream, right.upstream) or rpmvercmp(left.revision, right.revision)


def compare(a: str, b: str, source: str | None) -> int:
    """Order two versions of one package by its source's rules: -1, 0 or 1."""
    return compare_rpm(a, b) if source == "rpm" else compare_deb(a, b)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)
