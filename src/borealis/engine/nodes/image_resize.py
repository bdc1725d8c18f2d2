"""`image.resize`: each item's image scaled by a factor or to a size (enlarging helps OCR on small text)."""

from __future__ import annotations

from borealis.engine.images import MAX_SIDE, resize
from borealis.engine.nodes.image_base import ImageNode

NODE = ImageNode(
    type="image.resize",
    title="Resize an image",
    doc="Scales each item's image by `scale` (0.01–8), or to `width` × `height` pixels (Lanczos).",
    properties={
        "scale": {"type": "number", "minimum": 0.01, "maximum": 8},
        "width": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
        "height": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
    },
    transform=resize,
)
