"""The OpenAPI document as integrators read it: FastAPI's, completed from the route table in one place.

- Every operation that reads a body declares the two answers any body can get before the route runs: 400 (the
  bytes are not JSON text: FastAPI cannot decode them as UTF-8) and 413 (over the body limit,
  `RequestContextMiddleware`). Found from the document itself (`requestBody`), so a new route is covered without
  anyone adding it.
- Problem responses (`problem_responses`) carry their schema under `application/problem+json`, the media type they
  are sent with; FastAPI would otherwise document the model under `application/json`, which no error is sent as.

- Every operation gets a readable, stable `operationId` by one rule (`operation_id`), the name an SDK generator
  gives its method: `kpis_create`, `kpis_targets_list`, `alerts_ack`.

tests/test_fuzz_openapi.py holds the service to this document (status codes, content types and bodies).
"""

from http import HTTPStatus
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDetail"}
BODY_ERRORS = {
    400: "The body could not be read: JSON text must be UTF-8.",
    413: "The body is over the size limit (MAX_BODY_BYTES; INGEST_MAX_BODY_BYTES for /v1/ingest/).",
    415: "The body is not of a media type the endpoint reads (JSON unless it says otherwise).",
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


# Every tag with what it groups (the order is the documentation's); tests/test_openapi.py checks each tag used
# is here. Names are lower case, so a generated client's module names read as the tags do (`kpis`, not `kp_is`).
TAGS: list[dict[str, Any]] = [
    {
        "name": "organisations & API keys",
        "description": "Bootstrap an organisation, its settings (time zone, "
        "reporting currency) and its API keys with roles.",
    },
    {"name": "department", "description": "The marketing department: its team tree, positions, members and workflows."},
    {
        "name": "strategy",
        "description": "Business goals, SMART objectives tied to them, segments, competitors and the market analysis.",
    },
    {
        "name": "plans & budgets",
        "description": "Plans per period, their campaigns, budgets with allocation lines, "
        "reallocations and the planned-vs-actual report.",
    },
    {
        "name": "metric catalogue",
        "description": "The metrics points are pushed as (standard and custom), their "
        "units, aggregations and dimensions.",
    },
    {
        "name": "exchange rates",
        "description": "The rates money is converted with, day by day, into the "
        "reporting currency and budgets' currencies.",
    },
    {
        "name": "kpis",
        "description": "KPI definitions (formulas over metrics, input/output/impact) and the template library.",
    },
    {
        "name": "kpi targets",
        "description": "Targets per period with thresholds, their revisions, suggested targets, "
        "KPI values at any grain and objective progress.",
    },
    {
        "name": "ingestion",
        "description": "Push metrics (generic batches or ad-platform reports), follow batches, "
        "and set each source's adapter settings, default currency and signing secret.",
    },
    {"name": "alerts", "description": "Evaluations of KPI targets and the alerts their status changes open."},
    {
        "name": "webhooks",
        "description": "Signed webhook endpoints (Standard Webhooks), their deliveries and "
        "retries, and operator events.",
    },
    {
        "name": "notifications",
        "description": "Slack, Microsoft Teams and e-mail channels, the routing of events to them, silences, "
        "quiet hours and scheduled digests.",
    },
    {"name": "reports", "description": "The KPI scorecard, the budget report and the department report (JSON or CSV)."},
    {"name": "operations", "description": "Liveness, readiness and Prometheus metrics."},
]
_VERBS = {"patch": "update", "put": "set", "delete": "delete"}


def operation_id(method: str, path: str, operation: dict[str, Any]) -> str:
    """The operation's id: the path's fixed segments (without `v1`, hyphens as underscores; `ops_` before those
    outside /v1, the operations endpoints) joined by `_`, then what the method does to them — `list` (a GET
    answering a page), `get` (any other GET), `create` (a POST answering 201), `update` (PATCH), `set` (PUT),
    `delete`. Any other POST is an action: when its path ends with a word after an id, that word is the verb
    (`POST /v1/alerts/{alert_id}/ack` → `alerts_ack`); else `push` (accepted for processing:
    `POST /v1/ingest/metrics` → `ingest_metrics_push`). `POST /v1/kpis` → `kpis_create`,
    `GET /v1/kpis/{kpi_id}/targets` → `kpis_targets_list`, `PUT /v1/plans/{plan_id}/budget` → `plans_budget_set`.
    tests/test_openapi.py checks every id follows it and none repeats."""
    parts = [p for p in path.strip("/").split("/") if p]
    nouns = [p.replace("-", "_") for p in parts if p != "v1" and not p.startswith("{")]
    if parts[:1] != ["v1"]:
        nouns.insert(0, "ops")
    responses = operation.get("responses", {})
    verb: str | None
    if method == "get":
        schema = responses.get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        verb = "list" if name.startswith("Page_") or name.endswith("Page") else "get"
    elif method == "post":
        action = len(parts) > 1 and parts[-2].startswith("{") and not parts[-1].startswith("{")
        verb = "create" if "201" in responses else None if action else "push"
    else:
        verb = _VERBS[method]
    return "_".join([*nouns, verb] if verb else nouns)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The document with operation ids by our rule, the body errors declared and problem schemas under their media
    type (in place)."""
    _add_body_models(document)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            operation["operationId"] = operation_id(method, path, operation)
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, why in BODY_ERRORS.items():
                    phrase = HTTPStatus(status).phrase
                    example: dict[str, Any] = {"type": PROBLEM_BASE + phrase.lower().replace(" ", "-")}
                    example |= {"title": phrase, "status": status, "detail": why}
                    responses.setdefault(
                        str(status),
                        {
                            "description": f"{HTTPStatus(status).phrase}: {why}",
                            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA, "example": example}},
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


# Swagger UI and ReDoc as files installed with the service (the fastapi-offline package ships and updates them), so
# /docs and /redoc render where the service has no internet; FastAPI's own pages load them from a public CDN.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc (ReDoc) from local assets (the app is created with docs_url and redoc_url None)."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
        )

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
