"""`image.grayscale`: each item's image in shades of grey."""

from __future__ import annotations

from borealis.engine.images import grayscale
from borealis.engine.nodes.image_base import ImageNode

NODE = ImageNode(
    type="image.grayscale",
    title="Grayscale an image",
    doc="Turns each item's image into 8-bit grayscale.",
    properties={},
    transform=grayscale,
)
