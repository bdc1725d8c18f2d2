"""`image.ocr`: the text Tesseract reads in each item's image, with each word's box and confidence."""

from __future__ import annotations

import asyncio
from typing import Any

from borealis.engine.images import ocr
from borealis.engine.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.image_base import images_of


class ImageOcr:
    type = "image.ocr"
    version = 1
    category = "image"
    title = "Read text in an image (OCR)"
    doc = (
        "Runs Tesseract (pytesseract) on each item's image in `language` (default `eng`; several as "
        "`eng+deu`) and adds `{text, words: [{text, confidence, box: {x, y, width, height}}], confidence}` "
        "under `into` (default `ocr`). Words below `min_confidence` (0–100) are left out. The image "
        "reference is passed on."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "language": {"type": "string", "pattern": "^[a-z_]{3,16}(\\+[a-z_]{3,16}){0,4}$"},
            "min_confidence": {"type": "number", "minimum": 0, "maximum": 100},
            "into": {"type": "string", "minLength": 1, "maxLength": 64},
        },
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
            found = await asyncio.to_thread(
                ocr, image, str(params.get("language", "eng")), float(params.get("min_confidence", 0))
            )
            into = str(params.get("into", "ocr"))
            out.append({"json": {**(entry.get("json") or {}), into: found}, "binary_ref": ref})
        return {MAIN: out}


NODE = ImageOcr()
