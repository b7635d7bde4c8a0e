"""One rule for every text input: refuse what the store cannot hold, with a 422 naming where it was sent.

Postgres text cannot hold the NUL character (`\\u0000`: "invalid byte sequence for encoding UTF8: 0x00"), and
neither database can store a lone surrogate (`\\ud800` without its pair decodes to a code point UTF-8 cannot
encode). SQLite would keep a NUL, so the two backends disagreed; now both refuse it before anything is written.

The rule is applied centrally, never per field:
- request bodies: every `Input` model wraps each `str` of its schema (fields, list items, dict keys and values)
  in `check_text` (`guard_schema`), so the error's location is the exact place (`body.points.3.dimensions.x`);
- bodies read as raw JSON (the ad-platform reports): `find_unstorable` walks them;
- query and path parameters and headers: `storable_parameters`, a dependency of the whole app.
"""

import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic_core import PydanticCustomError, core_schema

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
ERROR_TYPE = "text_unstorable"


def unstorable(value: str) -> str | None:
    """Why the text cannot be stored (a message), or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain the NUL character (\\u0000)"
    return "must not contain a lone surrogate (\\ud800-\\udfff without its pair): send valid UTF-16 escapes or UTF-8"


def check_text(value: str) -> str:
    """A pydantic after-validator: the text, or a `text_unstorable` error."""
    # The fast test first: this runs on every string of every body (an ingest batch has hundreds of thousands).
    if "\x00" not in value and value.isascii():
        return value
    reason = unstorable(value)
    if reason is not None:
        raise PydanticCustomError(ERROR_TYPE, reason)
    return value


_GUARD = core_schema.no_info_after_validator_function
_SKIP = frozenset({"serialization", "metadata", "json_schema_input_schema", "ref", "schema_ref"})


def guard_schema(schema: Any) -> Any:
    """The core schema with every `str` validator followed by `check_text` (in place; idempotent)."""
    if isinstance(schema, dict):
        if schema.get("type") == "function-after" and schema.get("function", {}).get("function") is check_text:
            return schema  # already guarded (a nested model's schema, reached again)
        if schema.get("type") == "str":
            return _GUARD(check_text, schema)
        for key, value in schema.items():
            if key not in _SKIP and isinstance(value, dict | list):
                schema[key] = guard_schema(value)
    elif isinstance(schema, list):
        schema[:] = [guard_schema(item) for item in schema]
    return schema


# In JSON text a NUL or a surrogate can only arrive as a `\u` escape (raw control characters and invalid UTF-8
# do not decode), so a body without one needs no walk.
_MAYBE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_unstorable(raw_json: bytes) -> bool:
    """False when JSON text certainly decodes to storable strings only (a fast scan of the bytes)."""
    return _MAYBE_UNSTORABLE.search(raw_json) is not None


def find_unstorable(value: Any, location: str = "$") -> Iterator[tuple[str, str]]:
    """(location, reason) of each unstorable string in decoded JSON, keys included, in the adapters' notation
    (`data[1].campaign_name`)."""
    todo = [(location, value)]
    while todo:
        where, current = todo.pop()
        if isinstance(current, str):
            reason = unstorable(current)
            if reason is not None:
                yield readable(where), reason
        elif isinstance(current, dict):
            children = []
            for key, item in current.items():
                inner = key if where == "$" else f"{where}.{key}"
                reason = unstorable(key)
                if reason is not None:
                    yield readable(inner), f"a field name {reason}"
                children.append((inner, item))
            todo.extend(reversed(children))  # a stack: reversed, so the document is read in order
        elif isinstance(current, list):
            prefix = "" if where == "$" else where
            todo.extend((f"{prefix}[{i}]", current[i]) for i in range(len(current) - 1, -1, -1))


def readable(text: str) -> str:
    """Text safe to echo in a response: a lone surrogate becomes its `\\udXXX` escape, written out."""
    return text.encode("utf-8", "backslashreplace").decode() if _UNSTORABLE.search(text) else text


async def storable_parameters(request: Request) -> None:
    """Refuse a query parameter, path parameter or header the store could not hold (422 naming it), before any
    route reads it. (Bodies are checked by their models; headers cannot carry a surrogate, but a NUL may pass
    an ASGI server that does not check.)"""
    errors = []
    sources = (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
        ("header", request.headers.items()),
    )
    for where, items in sources:
        for name, value in items:
            reason = unstorable(value) if isinstance(value, str) else None
            if reason is not None:
                errors.append({"type": ERROR_TYPE, "loc": (where, readable(name)), "msg": reason, "input": None})
    if errors:
        raise RequestValidationError(errors)
