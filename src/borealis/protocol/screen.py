"""Live view (docs/screen.md): the frames between server, agent and the user-session helper.

Server → agent   screen.start {stream_id, fps, quality, max_width}   one stream per viewer
                 screen.ack   {stream_id, seq, quality}              credit for the next frame
                 screen.stop  {stream_id}
Agent → server   screen.frame {stream_id, seq, width, height, data (base64 JPEG)}
                 screen.ended {stream_id, reason}                    the agent cannot (or no longer) stream
The agent relays the same frames to and from the helper of the user's session. At most one frame is in
flight per stream: the helper captures the next one only after the ack of the previous one, so a slow
viewer slows the stream instead of filling a queue; an unchanged screen sends nothing.
"""

from __future__ import annotations

import re

START = "screen.start"
ACK = "screen.ack"
STOP = "screen.stop"
FRAME = "screen.frame"
ENDED = "screen.ended"
SERVER_TO_AGENT = frozenset({START, ACK, STOP})
AGENT_TO_SERVER = frozenset({FRAME, ENDED})
STREAM_ID = re.compile(r"[0-9a-f]{32}")
MAX_FRAME_BYTES = 640 * 1024  # one JPEG; bigger frames are re-encoded smaller by the helper
MAX_FPS = 15
MIN_QUALITY, MAX_QUALITY = 10, 95
IDLE_POLL_S = 0.25  # an unchanged screen is looked at this often (a change shows within it)


def clamp_quality(value: object, default: int = 70) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(MIN_QUALITY, min(MAX_QUALITY, value))
