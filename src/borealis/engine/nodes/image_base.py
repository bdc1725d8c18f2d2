"""The shape the image nodes share: for each item with an image (`binary_ref`), read it, transform it
in a thread, store the result for this run, and pass the item on with the new reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from borealis.engine.images import ImageBlobs
from borealis.engine.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items

Transform = Callable[[Image.Image, dict[str, Any]], Image.Image]


def images_of(ctx: NodeContext) -> ImageBlobs:
    """The host's image blobs; `NodeError` when this host keeps none."""
    if ctx.services.images is None:
        raise NodeError("image storage is not available on this server", retryable=False)
    return ctx.services.images


@dataclass
class ImageNode:
    type: str
    title: str
    doc: str
    properties: dict[str, Any]
    transform: Transform
    required: tuple[str, ...] = ()
    version: int = 1
    category: str = "image"
    inputs: tuple[str, ...] = (MAIN,)
    outputs: tuple[str, ...] = (MAIN,)
    schema: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.schema = {
            "type": "object",
            "additionalProperties": False,
            "properties": self.properties,
            "required": list(self.required),
        }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        store = images_of(ctx)
        out = []
        for index, entry in enumerate(all_items(inputs)):
            ref = entry.get("binary_ref")
            if not ref:
                raise NodeError(f"item {index} carries no image (binary_ref)", retryable=False)
            params = ctx.params_for(entry)
            image = await store.read(ref)
            changed = await asyncio.to_thread(self.transform, image, params)
            new_ref, meta = await store.write(ctx.run_id, f"{ctx.node_id}-{index}", changed)
            out.append({"json": {**(entry.get("json") or {}), "image": meta}, "binary_ref": new_ref})
        return {MAIN: out}
