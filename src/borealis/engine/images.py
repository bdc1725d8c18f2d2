"""Images that workflow items carry by reference (`binary_ref`), and what image nodes do to them.

A reference is a path under `<home>/Server/blobs/screenshots/`: `<job_id>/<agent_id>.<format>` for a
capture an agent sent, `run-<run_id>/<node_id>-<n>.png` for an image a node made. Both are pruned by
the screenshot retention. Images are opened with a pixel bound (no decompression bombs) and every
Pillow or Tesseract call runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from borealis.engine.errors import NodeError
from borealis.protocol import screenshot

MAX_PIXELS = 64_000_000
MAX_SIDE = 16384
OCR_TIMEOUT_S = 60.0
REF = re.compile(
    r"(?:[0-9a-f]{32}/[A-Za-z0-9_-]{1,64}|run-[0-9a-f]{32}/[A-Za-z0-9_.-]{1,128})\.(?:png|jpeg|webp)"
)
LANGUAGE = re.compile(r"[a-z_]{3,16}(?:\+[a-z_]{3,16}){0,4}")


@dataclass(frozen=True)
class ImageBlobs:
    """Reading and writing the images behind `binary_ref`s, within the blobs folder."""

    blobs: Path

    @property
    def root(self) -> Path:
        return self.blobs / "screenshots"

    def path_of(self, ref: str) -> Path:
        if not isinstance(ref, str) or not REF.fullmatch(ref.removeprefix("screenshots/")):
            raise NodeError(f"not an image reference: {str(ref)[:80]!r}", retryable=False)
        return self.root / ref.removeprefix("screenshots/")

    async def read(self, ref: str) -> Image.Image:
        path = self.path_of(ref)
        return await asyncio.to_thread(_open, path)

    async def write(self, run_id: str, name: str, image: Image.Image) -> tuple[str, dict[str, Any]]:
        """Store `image` as PNG for this run; (its reference, its description for the item)."""
        ref = f"screenshots/run-{run_id}/{name}.png"
        data = await asyncio.to_thread(_png, image)
        await asyncio.to_thread(_write, self.path_of(ref), data)
        return ref, {"format": "png", "width": image.width, "height": image.height, "bytes": len(data)}


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise NodeError(
                    f"the image is {image.width}x{image.height}: over the pixel limit", retryable=False
                )
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise NodeError(
            "the image is gone (deleted by retention, or never received)", retryable=False
        ) from None
    except (OSError, Image.DecompressionBombError) as exc:
        raise NodeError(f"the image cannot be read: {exc}", retryable=False) from None


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    if out.tell() > screenshot.MAX_IMAGE_BYTES * 4:
        raise NodeError("the resulting image is too large to keep", retryable=False)
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_bytes(data)
    staging.replace(path)


def _side(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_SIDE:
        raise NodeError(f"{name} must be an integer from {low} to {MAX_SIDE}", retryable=False)
    return value


def crop(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """The region `x`, `y`, `width`, `height` of the image (it must lie inside)."""
    x, y = _side(params.get("x", 0), "x", 0), _side(params.get("y", 0), "y", 0)
    width, height = _side(params.get("width"), "width"), _side(params.get("height"), "height")
    if x + width > image.width or y + height > image.height:
        raise NodeError(
            f"the region {width}x{height}+{x}+{y} is outside the image ({image.width}x{image.height})",
            retryable=False,
        )
    return image.crop((x, y, x + width, y + height))


def resize(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """The image scaled by `scale`, or resized to `width` x `height`, within the pixel limit."""
    scale = params.get("scale")
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.01 <= scale <= 8:
            raise NodeError("scale must be a number from 0.01 to 8", retryable=False)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    else:
        size = (_side(params.get("width"), "width"), _side(params.get("height"), "height"))
    if size[0] * size[1] > MAX_PIXELS:
        raise NodeError(f"{size[0]}x{size[1]} is over the pixel limit", retryable=False)
    return image.resize(size, Image.Resampling.LANCZOS)


def grayscale(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """The image in shades of gray."""
    return ImageOps.grayscale(image)


def threshold(image: Image.Image, params: dict[str, Any]) -> Image.Image:
    """The image in black and white: gray levels from `level` (0-255, default 128) up are white."""
    level = params.get("level", 128)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 255:
        raise NodeError("level must be an integer from 0 to 255", retryable=False)
    gray = ImageOps.grayscale(image)
    out = gray.point(lambda v: 255 if v >= level else 0)
    return ImageOps.invert(out) if params.get("invert") else out


def ocr(image: Image.Image, language: str, min_confidence: float) -> dict[str, Any]:
    """Text and words (with boxes and confidence) that Tesseract reads in `image`."""
    import pytesseract

    if shutil.which("tesseract") is None:
        raise NodeError(
            "Tesseract is not installed on the server (apt-get install tesseract-ocr)", retryable=False
        )
    if not LANGUAGE.fullmatch(language):
        raise NodeError("language must be Tesseract language codes such as eng or eng+deu", retryable=False)
    try:
        data = pytesseract.image_to_data(
            image, lang=language, output_type=pytesseract.Output.DICT, timeout=OCR_TIMEOUT_S
        )
    except pytesseract.TesseractError as exc:
        raise NodeError(f"Tesseract failed: {exc.message.strip()[:300]}", retryable=False) from None
    except RuntimeError as exc:  # pytesseract's timeout
        raise NodeError(f"Tesseract took over {OCR_TIMEOUT_S:g} s", retryable=False) from exc
    words: list[dict[str, Any]] = []
    lines: dict[tuple[int, int, int], list[str]] = {}
    for i, text in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if not text.strip() or confidence < min_confidence:
            continue
        words.append(
            {
                "text": text,
                "confidence": round(confidence, 1),
                "box": {
                    "x": int(data["left"][i]),
                    "y": int(data["top"][i]),
                    "width": int(data["width"][i]),
                    "height": int(data["height"][i]),
                },
            }
        )
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append(text)
    text = "\n".join(" ".join(words_) for _, words_ in sorted(lines.items()))
    confidences = [w["confidence"] for w in words]
    mean = round(sum(confidences) / len(confidences), 1) if confidences else None
    return {"text": text, "words": words, "confidence": mean}
