"""The outermost layer of every request: request id, body limit, access log, metrics, last-resort 500."""

import logging
import re
import time
import uuid

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.observability.prometheus import HTTP_LATENCY, HTTP_REQUESTS
from services.api.problems import PayloadTooLarge, internal_error_response, problem_response, unavailable_response
from shared.db.faults import is_transient
from shared.logging import request_id_var

log = logging.getLogger("api.access")
error_log = logging.getLogger("api.errors")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_FULL_PATHS: dict[int, str] = {}  # id(route) → its path template with every parent router's prefix


def _route_label(scope: Scope) -> str:
    """The matched route's full path template (`/v1/kpis/{kpi_id}`): a route of a router included in another keeps
    only its own part in `route.path` (`/kpis/{kpi_id}`), so the label is looked up in the app's route tree."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if id(route) not in _FULL_PATHS and (app := scope.get("app")) is not None:
        for context in iter_route_contexts(app.routes):
            if context.path:
                _FULL_PATHS.setdefault(id(context.original_route), context.path)
        # A route the tree does not list (a mount's) keeps its own path, and is not looked for again.
        _FULL_PATHS.setdefault(id(route), getattr(route, "path", None) or "unmatched")
    return _FULL_PATHS[id(route)] if id(route) in _FULL_PATHS else getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming bodies and the body limit work without buffering."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, ingest_max_body_bytes: int | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.ingest_max_body_bytes = ingest_max_body_bytes or max_body_bytes

    def _limit(self, path: str) -> int:
        # Metric batches are large by nature; every other body stays small.
        return self.ingest_max_body_bytes if path.startswith("/v1/ingest/") else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            limit = self._limit(scope["path"])
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(limit, scope, receive, send_with_id)
            else:
                await self.app(scope, self._limited(receive, limit), send_with_id)
        except Exception as exc:
            # A dependency's outage that escaped every handler (a refused connection is raised raw, not wrapped).
            transient = is_transient(exc)
            if transient:
                log.warning("%s %s: dependency fault mapped to 503: %r", scope["method"], scope["path"], exc)
            else:
                error_log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if not status["started"]:
                response = unavailable_response(scope["path"]) if transient else internal_error_response()
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route_label = _route_label(scope)
            HTTP_REQUESTS.labels(scope["method"], route_label, str(status["code"])).inc()
            HTTP_LATENCY.labels(scope["method"], route_label).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status["code"],
                extra={"status": status["code"], "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Count body bytes as they arrive: a chunked body has no Content-Length to check up front."""
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes through FastAPI's body parsing untouched (others become 400).
                    raise HTTPException(413, f"The request body exceeds the limit of {limit} bytes.")
            return message

        return limited_receive

    async def _too_large(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        exc = PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        response = problem_response(exc.status, exc.title, exc.detail, exc.slug)
        await response(scope, receive, send)
