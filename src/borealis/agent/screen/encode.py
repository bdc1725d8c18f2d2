"""Turning raw pixels into a PNG, JPEG or WebP (Pillow), scaled, within a size bound."""

from __future__ import annotations

import io

from PIL import Image

from borealis.agent.screen.capture import Frame
from borealis.core.errors import BorealisError

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


class TooLarge(BorealisError):
    """The encoded image is over the bound; the message says by how much."""


def to_image(frame: Frame, scale: float) -> Image.Image:
    image = Image.frombytes("RGB", (frame.width, frame.height), frame.rgb)
    if scale < 1.0:
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def encode(image: Image.Image, fmt: str, quality: int, max_bytes: int) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", optimize=False, compress_level=6)
    else:
        image.save(out, PIL_FORMATS[fmt], quality=quality)
    data = out.getvalue()
    if len(data) > max_bytes:
        raise TooLarge(
            f"the {fmt} image is {len(data)} bytes, over the limit of {max_bytes}: "
            "ask for a region, a smaller scale or jpeg/webp"
        )
    return data
