"""Every frame type has a typed definition whose `t` is that type's tag, and built frames go on the
wire unchanged (TypedDicts are plain dicts)."""

from __future__ import annotations

from typing import Literal, get_args, get_origin, get_type_hints

import orjson
import pytest

from borealis.protocol import frames
from borealis.protocol.messages import MessageType
from borealis.protocol.roles import RoleMessage


@pytest.mark.parametrize("tag", [*MessageType, RoleMessage.INSTALL, RoleMessage.REMOVE])
def test_each_tag_has_a_frame_type_tagged_with_it(tag: str) -> None:
    frame_type = frames.FRAME_TYPES[tag]
    t = get_type_hints(frame_type)["t"]
    assert get_origin(t) is Literal and get_args(t) == (tag,)


def test_every_frame_type_is_a_server_or_an_agent_frame() -> None:
    both = set(get_args(frames.ServerFrame)) | set(get_args(frames.AgentFrame))
    assert both == set(frames.FRAME_TYPES.values())


def test_a_typed_frame_is_the_plain_json_object() -> None:
    ack: frames.AckFrame = {"t": MessageType.ACK, "msg_id": "m-1"}
    assert type(ack) is dict
    assert orjson.loads(orjson.dumps(ack)) == {"t": "ack", "msg_id": "m-1"}
