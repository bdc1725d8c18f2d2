"""What the screen code decides on its own: why there is no screen to capture, which parameters and
input events are accepted, and how a frame is kept within its size bound."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from borealis.agent.screen.capture import Frame, unavailable_reason
from borealis.agent.screen.stream import encode_jpeg
from borealis.core.errors import InvalidInput
from borealis.protocol import screen, screenshot


def test_a_wayland_session_without_x_and_a_console_session_are_refused_with_the_reason() -> None:
    wayland = unavailable_reason({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"})
    assert wayland is not None and "Wayland session without an X display" in wayland and "portal" in wayland
    console = unavailable_reason({"XDG_SESSION_TYPE": "tty"})
    assert console is not None and "DISPLAY is not set" in console
    assert unavailable_reason({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) is None  # Xwayland


def test_screenshot_params_get_defaults_and_bad_ones_name_their_field() -> None:
    assert screenshot.check_params({}) == {
        "monitor": 0,
        "region": None,
        "scale": 1.0,
        "format": "png",
        "quality": 80,
    }
    region = {"x": 1, "y": 2, "width": 3, "height": 4}
    assert screenshot.check_params({"region": region, "format": "webp"})["region"] == region
    for params, field in [
        ({"scale": 1.5}, "params.scale"),
        ({"scale": True}, "params.scale"),
        ({"format": "gif"}, "params.format"),
        ({"quality": 0}, "params.quality"),
        ({"region": {"x": 0, "y": 0, "width": 0, "height": 1}}, "params.region.width"),
        ({"region": [0, 0, 1, 1]}, "params.region"),
        ({"extra": 1}, "params"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            screenshot.check_params(params)
        assert refused.value.extra["field"] == field


def test_input_events_are_bounded_and_shaped() -> None:
    assert screen.check_events([{"type": "click", "x": 1, "y": 2}]) == [
        {"type": "click", "x": 1, "y": 2, "button": 1}
    ]
    assert screen.check_events([{"type": "key", "key": "Return"}, {"type": "text", "text": "93 %"}])
    for events in (
        [],
        [{"type": "click", "x": 1, "y": 2}] * (screen.MAX_EVENTS + 1),
        [{"type": "teleport"}],
        [{"type": "move", "x": -1, "y": 0}],
        [{"type": "key", "key": "Return; rm -rf /"}],
        [{"type": "text", "text": "\x1b[2J"}],
        [{"type": "text", "text": "a" * (screen.MAX_TEXT + 1)}],
        [{"type": "down", "button": 9}],
    ):
        with pytest.raises(screen.BadInput):
            screen.check_events(events)


def test_a_frame_too_big_for_the_bound_is_encoded_smaller() -> None:
    noise = Image.frombytes("RGB", (2400, 1600), os.urandom(2400 * 1600 * 3))
    data, width, height = encode_jpeg(Frame(2400, 1600, noise.tobytes()), 95, 1920)
    assert len(data) <= screen.MAX_FRAME_BYTES and width <= 1920
    assert Image.open(io.BytesIO(data)).size == (width, height)
