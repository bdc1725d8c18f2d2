"""Agent roles (DESIGN §8): the contract, the built-in roles (one module each) and the registry.

Only the contract is imported here; built-in roles and the registry are imported where they are used,
so a worker that never runs a job never loads them.
"""

from borealis.agent.roles.contract import (
    JobRequest,
    JobResult,
    OutputSink,
    OutputStream,
    ProcessSink,
    Role,
    RoleContext,
    RoleError,
    RunContext,
)

__all__ = [
    "JobRequest",
    "JobResult",
    "OutputSink",
    "OutputStream",
    "ProcessSink",
    "Role",
    "RoleContext",
    "RoleError",
    "RunContext",
]
