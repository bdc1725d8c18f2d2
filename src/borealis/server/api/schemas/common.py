"""Pieces every area's response models share: timestamps as date-time strings, JSON, pages."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, WithJsonSchema

# The routes format instants themselves (`core.clock.iso`: UTC with a `Z`); the models keep that text
# as it is and only declare its format, so a response is never re-formatted on the way out.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# Free-form JSON (job params, inventory data, workflow documents, node records): typed as JSON, no more.
Json = Any
JsonObject = dict[str, Any]

Item = TypeVar("Item")


class Schema(BaseModel):
    """Base of the response models: fields are the route's keys, in the route's order. Unknown
    keys are dropped from the answer (the default), so a model lists every key its route sends."""

    model_config = ConfigDict(extra="ignore")


class Page(Schema, Generic[Item]):
    """A list response: one page of items and the cursor of the next page (null on the last)."""

    items: list[Item]
    next_cursor: str | None
