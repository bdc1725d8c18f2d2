"""A small JSON Schema checker for node parameters: the subset our node types use.

Supported: `type` (object, array, string, integer, number, boolean, null, or a list of them), `properties`,
`required`, `additionalProperties: false`, `items`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`,
`minItems`/`maxItems`. A string holding a `{{ … }}` template is accepted for any type: it is checked
again after rendering, when the node runs. Errors are `(field path, message)`.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.expressions import has_template

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, ()))


def check(schema: dict[str, Any], value: Any, path: str = "params") -> list[tuple[str, str]]:
    """The problems of `value` against `schema`, as `(field path, message)`; [] when it passes."""
    if has_template(value):
        return []
    wanted = schema.get("type")
    if wanted is not None:
        names = wanted if isinstance(wanted, list) else [wanted]
        if not any(_is(value, name) for name in names):
            return [(path, f"must be {' or '.join(names)}")]
    errors: list[tuple[str, str]] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append((path, f"must be one of {', '.join(map(str, schema['enum']))}"))
    if isinstance(value, str):
        errors.extend(_check_text(schema, value, path))
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors.extend(_check_number(schema, value, path))
    if isinstance(value, list):
        errors.extend(_check_array(schema, value, path))
    if isinstance(value, dict):
        errors.extend(_check_object(schema, value, path))
    return errors


def _check_text(schema: dict[str, Any], value: str, path: str) -> list[tuple[str, str]]:
    errors = []
    if len(value) < schema.get("minLength", 0):
        errors.append((path, f"must be at least {schema['minLength']} characters"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append((path, f"must be at most {schema['maxLength']} characters"))
    return errors


def _check_number(schema: dict[str, Any], value: float, path: str) -> list[tuple[str, str]]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append((path, f"must be at least {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        errors.append((path, f"must be at most {schema['maximum']}"))
    return errors


def _check_array(schema: dict[str, Any], value: list[Any], path: str) -> list[tuple[str, str]]:
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append((path, f"must have at least {schema['minItems']} entries"))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append((path, f"must have at most {schema['maxItems']} entries"))
    if isinstance(schema.get("items"), dict):
        for index, entry in enumerate(value):
            errors.extend(check(schema["items"], entry, f"{path}[{index}]"))
    return errors


def _check_object(schema: dict[str, Any], value: dict[str, Any], path: str) -> list[tuple[str, str]]:
    errors = []
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for name in schema.get("required", []):
        if name not in value:
            errors.append((f"{path}.{name}", "is required"))
    for name, entry in value.items():
        if name in properties:
            errors.extend(check(properties[name], entry, f"{path}.{name}"))
        elif extra is False:
            errors.append((f"{path}.{name}", "is not a known parameter"))
        elif isinstance(extra, dict):
            errors.extend(check(extra, entry, f"{path}.{name}"))
    return errors
