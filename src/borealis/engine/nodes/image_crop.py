"""`image.crop`: the part of each item's image inside a rectangle."""

from __future__ import annotations

from borealis.engine.images import MAX_SIDE, crop
from borealis.engine.nodes.image_base import ImageNode

SIDE = {"type": "integer", "minimum": 1, "maximum": MAX_SIDE}
NODE = ImageNode(
    type="image.crop",
    title="Crop an image",
    doc="Keeps the rectangle `x`, `y`, `width`, `height` (pixels from the top-left corner) of each item's "
    "image; a rectangle outside the image fails the node with the sizes.",
    properties={
        "x": {"type": "integer", "minimum": 0, "maximum": MAX_SIDE},
        "y": {"type": "integer", "minimum": 0, "maximum": MAX_SIDE},
        "width": SIDE,
        "height": SIDE,
    },
    required=("width", "height"),
    transform=crop,
)
