"""The `screenshot` role (docs/screen.md): captures the screen in the user's session helper.

It runs only as `user` — a screen belongs to the logged-in user, so the agent hands the job to that
session's helper, which captures with its own rights (never as root). The image comes back as the
result's `blob`; the job runner sends it to the server in bounded `job.blob` frames.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from borealis.agent.roles.contract import JobRequest, JobResult, RoleContext, RoleError, RunContext
from borealis.agent.screen.capture import CaptureError, grab
from borealis.agent.screen.encode import TooLarge, encode, to_image
from borealis.core.errors import InvalidInput
from borealis.protocol import screenshot
from borealis.protocol.jobs import JobState


def _capture(params: dict[str, Any]) -> tuple[bytes, int, int]:
    frame = grab(params["monitor"], params["region"])
    image = to_image(frame, params["scale"])
    data = encode(image, params["format"], params["quality"], screenshot.MAX_IMAGE_BYTES)
    return data, image.width, image.height


class ScreenshotRole:
    name = screenshot.ROLE
    contexts = frozenset({RunContext.USER})
    version = "1"

    async def start(self, ctx: RoleContext) -> None:
        return None

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        try:
            params = screenshot.check_params(request.params)
        except InvalidInput as bad:
            raise RoleError(bad.detail) from None
        try:
            data, width, height = await asyncio.to_thread(_capture, params)
        except (CaptureError, TooLarge) as exc:
            return JobResult(JobState.FAILED, error=str(exc))
        image = {
            "format": params["format"],
            "width": width,
            "height": height,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        return JobResult(JobState.SUCCEEDED, exit_code=0, data={"image": image}, blob=data)

    async def cancel(self, job_id: str) -> None:
        return None  # a capture takes milliseconds; the runner's grace covers it

    async def stop(self) -> None:
        return None


def create_role() -> ScreenshotRole:
    return ScreenshotRole()
