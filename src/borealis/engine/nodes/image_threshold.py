"""`image.threshold`: each item's image in black and white, split at a grey level."""

from __future__ import annotations

from borealis.engine.images import threshold
from borealis.engine.nodes.image_base import ImageNode

NODE = ImageNode(
    type="image.threshold",
    title="Threshold an image",
    doc="Pixels at least `level` (0–255, default 128) bright become white, the others black; `invert` swaps "
    "them. Clean black-on-white text reads best with OCR.",
    properties={"level": {"type": "integer", "minimum": 0, "maximum": 255}, "invert": {"type": "boolean"}},
    transform=threshold,
)
