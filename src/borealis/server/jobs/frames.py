"""Server → agent job frames. Every `job` frame is signed for exactly one agent (DESIGN §5)."""

from __future__ import annotations

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.protocol import keys
from borealis.protocol.frames import AckFrame, JobCancelFrame, JobFrame
from borealis.protocol.jobs import job_payload
from borealis.protocol.messages import MessageType
from borealis.server.db.models import Job


def job_frame(key: Ed25519PrivateKey, job: Job, agent_id: str) -> str:
    frame: JobFrame = {
        "t": MessageType.JOB,
        "job_id": job.id,
        "agent_id": agent_id,
        "role": job.role,
        "params": job.params,
        "run_as": job.run_as,
        "timeout_s": job.timeout_s,
        "not_after": job.expires_at.timestamp(),
        "signature": "",
    }
    frame["signature"] = keys.sign(key, job_payload(frame))
    if job.cosign is not None:  # the operator's signature covers the target too (protocol/cosign.py)
        frame["target"] = job.target
        frame["cosign"] = job.cosign
    return orjson.dumps(frame).decode()


def cancel_frame(job_id: str) -> str:
    frame: JobCancelFrame = {"t": MessageType.JOB_CANCEL, "job_id": job_id}
    return orjson.dumps(frame).decode()


def ack_frame(msg_id: str) -> str:
    frame: AckFrame = {"t": MessageType.ACK, "msg_id": msg_id}
    return orjson.dumps(frame).decode()
