"""Screenshot images of job results, for operators with `desktop:view` (docs/screen.md)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from borealis.core.errors import NotFound
from borealis.server.api.common import DesktopView
from borealis.server.db.models import JobResult
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

IMAGE: dict[int | str, dict[str, object]] = {
    200: {
        "description": "the image, as the agent captured it",
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}}
            for t in ("image/png", "image/jpeg", "image/webp")
        },
    }
}


@router.get("/{job_id}/results/{agent_id}/image", response_class=Response, responses=IMAGE)
async def result_image(
    request: Request,
    who: DesktopView,
    job_id: str = Path(max_length=64),
    agent_id: str = Path(max_length=64),
) -> Response:
    """The screenshot a `screenshot` job's result refers to (`data.image`)."""
    state = state_of(request)
    async with state.db.session() as session:
        row = await session.scalar(
            select(JobResult).where(JobResult.job_id == job_id, JobResult.agent_id == agent_id)
        )
    if row is None:
        raise NotFound(f"no result of job {job_id} for agent {agent_id}")
    image = (row.data or {}).get("image")
    data, media_type = await state.screenshots.read(job_id, agent_id, image)
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
