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

from borealis.core.errors import InvalidInput

START = "screen.start"
ACK = "screen.ack"
STOP = "screen.stop"
FRAME = "screen.frame"
ENDED = "screen.ended"
SERVER_TO_AGENT = frozenset({START, ACK, STOP, "screen.input"})  # and INPUT, below
AGENT_TO_SERVER = frozenset({FRAME, ENDED, "screen.input_result"})  # and INPUT_RESULT
STREAM_ID = re.compile(r"[0-9a-f]{32}")
MAX_FRAME_BYTES = 640 * 1024  # one JPEG; bigger frames are re-encoded smaller by the helper
MAX_FPS = 15
MIN_QUALITY, MAX_QUALITY = 10, 95
IDLE_POLL_S = 0.25  # an unchanged screen is looked at this often (a change shows within it)


def clamp_quality(value: object, default: int = 70) -> int:
    """A JPEG quality within the allowed range; `default` when none was given."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(MIN_QUALITY, min(MAX_QUALITY, value))


# Remote control (`desktop:control` on the server, `remote_control = true` in the agent's agent.toml).
# Server → agent   screen.input        {stream_id, seq, events}
# Agent → server   screen.input_result {stream_id, seq, ok, reason}
INPUT = "screen.input"
INPUT_RESULT = "screen.input_result"
MAX_EVENTS = 64
MAX_TEXT = 256
KEY_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")  # an X keysym name: Return, BackSpace, F5, a …
EVENT_TYPES = frozenset({"move", "click", "down", "up", "key", "text"})


class BadInput(InvalidInput, ValueError):
    """Input events that are not well formed; the message says which (a `ValueError` too, as before)."""


def check_events(events: object) -> list[dict[str, object]]:
    """Mouse and keyboard events, bounded and shaped; coordinates are in the frame's pixels."""
    if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS:
        raise BadInput(f"events must be a list of 1 to {MAX_EVENTS} events")
    return [_check_event(event) for event in events]


def _check_event(event: object) -> dict[str, object]:
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in EVENT_TYPES or not isinstance(event, dict):
        raise BadInput(f"event type must be one of {sorted(EVENT_TYPES)}")
    out: dict[str, object] = {"type": kind}
    if kind in ("move", "click"):
        for axis in ("x", "y"):
            out[axis] = _bounded_int(event.get(axis), 0, 16384, f"{kind} needs {axis} from 0 to 16384")
    if kind in ("click", "down", "up"):
        out["button"] = _bounded_int(event.get("button", 1), 1, 5, "button must be 1 to 5")
    if kind == "key":
        key = event.get("key")
        if not isinstance(key, str) or not KEY_NAME.fullmatch(key):
            raise BadInput("key must be an X key name such as Return, BackSpace or a")
        out["key"] = key
    if kind == "text":
        text = event.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT or not text.isprintable():
            raise BadInput(f"text must be 1 to {MAX_TEXT} printable characters")
        out["text"] = text
    return out


def _bounded_int(value: object, low: int, high: int, refusal: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(refusal)
    return value
