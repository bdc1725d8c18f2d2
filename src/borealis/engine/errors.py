"""The engine's failures, in the one `BorealisError` hierarchy (core/errors.py)."""

from __future__ import annotations

from borealis.core.errors import BorealisError


class NodeError(BorealisError):
    """A node failed in a way its author should read; `retryable` says whether a retry may help."""

    slug = "node-error"
    title = "Node failed"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NodeFailed(BorealisError):
    """A node failed for good (retries spent, error policy `stop`): the run stops with it."""

    slug = "node-failed"
    title = "Node failed"

    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(f"node {node_id!r} failed: {message}")
        self.node_id = node_id
