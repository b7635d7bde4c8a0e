"""The OpenAPI document as integrators read it: FastAPI's, completed from the route table in one place.

- Every operation that reads a body declares the two answers any body can get before the route runs: 400 (the
  bytes are not JSON text: FastAPI cannot decode them as UTF-8) and 413 (over the body limit,
  `RequestContextMiddleware`). Found from the document itself (`requestBody`), so a new route is covered without
  anyone adding it.
- Problem responses (`problem_responses`) carry their schema under `application/problem+json`, the media type they
  are sent with; FastAPI would otherwise document the model under `application/json`, which no error is sent as.

tests/test_fuzz_openapi.py holds the service to this document (status codes, content types and bodies).
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDetail"}
BODY_ERRORS = {
    400: "The body could not be read: JSON text must be UTF-8.",
    413: "The body is over the size limit (MAX_BODY_BYTES; INGEST_MAX_BODY_BYTES for /v1/ingest/).",
}


# Models documented as a route's body that the route reads itself (`body_documented_as`): their schemas are added
# to the components, as FastAPI adds those of declared body parameters.
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def body_documented_as(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its body from the bytes (to be fast) but whose contract is `model`:
    the request body documented exactly as a declared body parameter of that model would be."""
    _BODY_MODELS[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def _add_body_models(document: dict[str, Any]) -> None:
    if not _BODY_MODELS:
        return
    _, definitions = models_json_schema(
        [(model, "validation") for model in _BODY_MODELS.values()], ref_template="#/components/schemas/{model}"
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    document["components"]["schemas"] = dict(sorted(schemas.items()))


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the body errors declared and problem schemas under their media type (in place)."""
    _add_body_models(document)
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, why in BODY_ERRORS.items():
                    responses.setdefault(
                        str(status),
                        {
                            "description": f"{HTTPStatus(status).phrase}: {why}",
                            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
                        },
                    )
            for response in responses.values():
                content = response.get("content", {})
                if PROBLEM_MEDIA_TYPE in content and not content[PROBLEM_MEDIA_TYPE].get("schema"):
                    documented = content.pop("application/json", {}).get("schema") or PROBLEM_SCHEMA
                    content[PROBLEM_MEDIA_TYPE] = {**content[PROBLEM_MEDIA_TYPE], "schema": documented}
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first use, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
