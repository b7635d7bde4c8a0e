"""The bare endpoint the HTTP accept rate is compared with: read the body and `json.loads` it, nothing else.

Served by uvicorn with the same flags as the API (`tests.bench.bare_app:create_app --factory`)."""

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/ingest/metrics")
    async def ingest(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        return JSONResponse({"points": len(body["points"])}, status_code=202)

    return app
