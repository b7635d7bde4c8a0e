"""RFC 9457 problem details: the one error format of the API, and the exceptions that produce it."""

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.text import readable
from shared.db.faults import is_transient, sqlstate
from shared.logging import request_id_var

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://kpi.example/problems/"


class FieldError(BaseModel):
    """One invalid place of a request: where, what is wrong, and a stable machine-readable kind."""

    model_config = ConfigDict(extra="allow")

    location: str = Field(examples=["body.points.3.currency"], description="`body.…`, `query.…`, `path.…`, `header.…`")
    message: str = Field(examples=["'spend' is money and this point states no currency: …"])
    type: str = Field(
        examples=["currency_missing"],
        description="Stable kind of error (pydantic's, e.g. `missing`, `string_too_long`, or ours, e.g. "
        "`unknown_metric`, `minor_units`); `invalid` when nothing more specific applies",
    )


class ProblemDetail(BaseModel):
    """RFC 9457 problem details, as every error of this API is returned."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No API key 01a2…"])
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem")
    errors: list[FieldError] | None = Field(
        default=None, description="422 only: one entry per invalid field (`location`, `message`, `type`)"
    )


class ValidationProblem(ProblemDetail):
    """A 422: the request named by place, every invalid field listed; nothing was stored."""

    errors: list[FieldError] = Field(description="One entry per invalid field")


# An example of each problem the API answers with, as the documentation shows it.
_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"title": "Bad request", "slug": "bad-request", "detail": "There was an error parsing the body"},
    401: {"title": "Authentication required", "slug": "unauthorized", "detail": "Missing or invalid API key."},
    403: {
        "title": "Not allowed for this key's role",
        "slug": "forbidden",
        "detail": "This needs a key with role admin or editor; this key is a viewer key.",
    },
    404: {"title": "Not found", "slug": "not-found", "detail": "No KPI 01a2f0c4-7d1e-7000-8000-000000000000."},
    409: {
        "title": "Conflict",
        "slug": "conflict",
        "detail": "Idempotency key 'crm-2026-11-02' was used for a different batch.",
    },
    413: {
        "title": "Request body too large",
        "slug": "payload-too-large",
        "detail": "A batch may carry at most 100000 points; this one has 120000. Split it.",
    },
    422: {
        "title": "Invalid input",
        "slug": "validation-error",
        "detail": "body.target_value: Field required",
        "errors": [{"location": "body.target_value", "message": "Field required", "type": "missing"}],
    },
    429: {
        "title": "Too many requests",
        "slug": "too-many-requests",
        "detail": "Too many failed sign-ins; retry after 30 s.",
    },
    503: {
        "title": "Service unavailable",
        "slug": "service-unavailable",
        "detail": "The database is not answering; retry shortly.",
    },
}


def _example(status: int) -> dict[str, Any]:
    example = dict(_EXAMPLES[status])
    slug = example.pop("slug")
    return {"type": PROBLEM_BASE + slug, "status": status, **example, "request_id": "9f1c2b7e5d3a4c6b8e0f1a2b3c4d5e6f"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json errors (a 422 with its typed `errors`), each with an
    example."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else ProblemDetail,
            "content": {PROBLEM_MEDIA_TYPE: {"example": _example(status)} if status in _EXAMPLES else {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }


# What an authenticated /v1 route can answer besides its success.
V1_ERRORS = problem_responses(401, 403, 404, 422, 429, 503)


class Problem(Exception):
    """Raise one of these from a service or route; it becomes a problem+json response."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="kpi"'}, **extra)


class InvalidSignature(Problem):
    status, slug, title = 401, "invalid-signature", "Signature missing or invalid"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed for this key's role"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(Problem):
    status, slug, title = 422, "validation-error", "Invalid input"


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any):
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **extra)


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem_body(status: int, title: str, detail: str, slug: str, **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    if status == 422 and "errors" not in body:  # a 422 always lists what is wrong, at least as the whole request
        body["errors"] = [{"location": "request", "message": detail, "type": "invalid"}]
    errors = body.get("errors")
    if isinstance(errors, list):  # every entry has a kind, even where no more specific one was given
        body["errors"] = [
            {**error, "type": error.get("type") or "invalid"} if isinstance(error, dict) else error for error in errors
        ]
    return body


class ProblemJSON(JSONResponse):
    """JSON that never fails to encode: a problem may quote the caller's text, and a lone surrogate in it is
    written as its `\\udXXX` escape instead of turning a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8", "backslashreplace"
        )


def problem_response(
    status: int, title: str, detail: str, slug: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return ProblemJSON(
        problem_body(status, title, detail, slug, **extra),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def internal_error_response() -> JSONResponse:
    return problem_response(
        500,
        "Internal Server Error",
        "An unexpected error occurred; quote the request id when reporting it.",
        "internal-error",
    )


# Seconds a client is asked to wait after a 503 for a dependency outage (the backoff is the client's to grow).
RETRY_AFTER_S = 2


DASHBOARD_PREFIX = "/dashboard"


def is_dashboard(path: str) -> bool:
    """A browser's page (server-rendered HTML), not an API route."""
    return path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")


def unavailable_response(path: str = "") -> Response:
    """503 for a transient fault (`shared.db.faults`): the database or the queue is down, restarting or busy.
    A problem+json for the API; for a dashboard page (`path` under /dashboard), an HTML page a browser shows."""
    if is_dashboard(path):
        from services.api.dashboard.outage import outage_page  # the dashboard imports this module

        return outage_page(RETRY_AFTER_S)
    return _response_of(
        ServiceUnavailable(
            "A service this request needs (the database or the job queue) is unreachable or busy. Retry shortly; a "
            "push retried with the same Idempotency-Key is never counted twice.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    )


def _known_problem(status: int) -> type[Problem] | None:
    return next((cls for cls in Problem.__subclasses__() if cls.status == status), None)


def _response_of(exc: Problem) -> JSONResponse:
    return problem_response(exc.status, exc.title, exc.detail, exc.slug, exc.headers, **exc.extra)


async def _on_problem(_request: Request, exc: Problem) -> JSONResponse:
    return _response_of(exc)


async def _on_http_exception(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors (404 route, 405 method, 413 from the body limit) in the same shape as ours."""
    known = _known_problem(exc.status_code)
    if known is not None:
        title, slug = known.title, known.slug
    else:
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "Error"
        slug = title.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(exc.status_code, title, detail, slug, dict(exc.headers) if exc.headers else None)


def _location(loc: tuple) -> str:
    # A field name is the caller's text: one with a lone surrogate is written out (`\\ud800`), not echoed raw.
    return readable(".".join(str(part) for part in loc))


def _where(err: dict[str, Any]) -> tuple:
    """An error's place; a date-order error found on the whole object is the later date's (`body.end_date`)."""
    loc = tuple(err["loc"])
    if err["type"] == "date_order" and (ctx := err.get("ctx")) and ctx.get("end_name") not in (None, *loc[-1:]):
        return (*loc, ctx["end_name"])
    return loc


def invalid_json(exc: json.JSONDecodeError) -> RequestValidationError:
    """The 422 of a body that is not JSON, as FastAPI words it for declared bodies, with the text so the problem
    says where (line and column): for routes that decode their body themselves."""
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
        ],
        body=exc.doc,
    )


def _json_position(body: Any, position: int) -> str:
    """Where in a body JSON decoding stopped, as people count: line and column (1-based)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body if isinstance(body, str) else None
    if text is None:
        return f"character {position + 1}"
    before = text[:position]
    return f"line {before.count(chr(10)) + 1}, column {position - (before.rfind(chr(10)) + 1) + 1}"


def _message(err: dict[str, Any], body: Any) -> str:
    if err["type"] == "json_invalid" and len(err["loc"]) == 2 and isinstance(err["loc"][1], int):
        why = (err.get("ctx") or {}).get("error") or "not valid JSON"
        return f"invalid JSON at {_json_position(body, err['loc'][1])}: {why}"
    return err["msg"]


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "location": "body" if err["type"] == "json_invalid" else _location(_where(err)),
            "message": _message(err, exc.body),
            "type": err["type"],
        }
        for err in exc.errors()
    ]
    first = errors[0] if errors else None
    detail = f"{first['location']}: {first['message']}" if first else "Invalid input"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_response(422, "Invalid input", detail, "validation-error", errors=errors)


async def _on_integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
    # Services check the conflicts they know of; this is the backstop for a race between two requests.
    log.warning("integrity error mapped to 409: %s", exc.orig)
    return problem_response(409, "Conflict", "The change conflicts with the current state of the resource.", "conflict")


async def _on_database_error(request: Request, exc: DBAPIError) -> Response:
    # An outage, a restart, a deadlock or SQLite's busy writer: the caller can simply retry. Anything else is ours.
    if is_transient(exc):
        log.warning("database fault mapped to 503: %s", exc.orig)
        return unavailable_response(request.url.path)
    code = sqlstate(exc)
    if code is not None and code.startswith(DATA_EXCEPTION_CLASS):
        return await _on_data_error(request, exc)
    log.error("database error", exc_info=exc)
    return internal_error_response()


# SQLSTATE class 22, data exception: a value the database refuses (22003 numeric out of range, 22021 a byte
# sequence invalid in UTF-8, 22P05 untranslatable character, 22001 string too long…). asyncpg raises them as
# plain DBAPIError, not DataError, so both handlers answer them alike.
DATA_EXCEPTION_CLASS = "22"


async def _on_data_error(_request: Request, exc: DBAPIError) -> JSONResponse:
    # Schemas bound every value; this is the backstop for one the database still refuses.
    log.warning("data error mapped to 422: %s", exc.orig)
    return problem_response(
        422,
        "Invalid input",
        "The database refused a value: out of range for its field, or text it cannot store.",
        "validation-error",
    )


async def _on_overflow(_request: Request, exc: OverflowError) -> JSONResponse:
    # Inputs are bounded (years 1900-2199); this is the backstop for date arithmetic that still leaves the
    # calendar, so it is the caller's 422 and never a 500.
    log.warning("overflow mapped to 422: %s", exc)
    return problem_response(
        422, "Invalid input", "A date or number is out of the range this service handles.", "validation-error"
    )


# Each handler takes its own exception type; Starlette's signature says Exception, so the table is typed loosely.
_HANDLERS: list[tuple[type[Exception], Callable[[Request, Any], Awaitable[Response]]]] = [
    (Problem, _on_problem),
    (StarletteHTTPException, _on_http_exception),
    (RequestValidationError, _on_validation_error),
    (IntegrityError, _on_integrity_error),
    (DBAPIError, _on_database_error),
    (DataError, _on_data_error),
    (OverflowError, _on_overflow),
]


def install_problem_handlers(app: FastAPI) -> None:
    for exc_type, handler in _HANDLERS:
        app.add_exception_handler(exc_type, handler)
