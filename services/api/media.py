"""The media type of request bodies: a route that reads JSON says so with a 415 to anything else."""

import re

from fastapi import Request, params

from services.api.problems import UnsupportedMediaType
from services.api.text import readable

_JSON_TYPES = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


def is_json_type(media_type: str) -> bool:
    """`application/json` or any `application/…+json`."""
    return bool(_JSON_TYPES.match(media_type))


async def json_bodies(request: Request) -> None:
    """A route that reads a JSON body refuses another media type with a 415 naming the one it takes, before any
    field is validated (routes that read their body themselves, e.g. CSV uploads, are not affected)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    field = getattr(request.scope.get("route"), "body_field", None)
    if field is None or isinstance(getattr(field, "field_info", None), params.Form):  # forms (the dashboard's)
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and not is_json_type(media_type):
        raise UnsupportedMediaType(
            f"This endpoint reads a JSON body: send Content-Type: application/json (got {readable(media_type)})."
        )
