"""The FastAPI application: `uvicorn services.api.main:create_app --factory` (what `make run` starts)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from services.api import openapi
from services.api.alerts.router import router as alerts_router
from services.api.dashboard.auth import session_key
from services.api.dashboard.router import router as dashboard_router
from services.api.department.router import router as department_router
from services.api.health.router import router as health_router
from services.api.ingest.router import router as ingest_router
from services.api.kpis.router import router as kpis_router
from services.api.media import json_bodies
from services.api.metrics.router import router as metrics_router
from services.api.money.router import router as money_router
from services.api.notifications.router import router as notifications_router
from services.api.observability.middleware import RequestContextMiddleware
from services.api.orgs.router import router as orgs_router
from services.api.plans.router import router as plans_router
from services.api.problems import install_problem_handlers
from services.api.reports.router import router as reports_router
from services.api.state import AppState
from services.api.strategy.router import router as strategy_router
from services.api.text import storable_parameters
from services.api.throttle import AuthThrottle
from services.api.webhooks.payloads import document_webhooks
from services.api.webhooks.router import router as webhooks_router
from shared.db.engine import make_database
from shared.jobs.queue import InProcessQueue, make_queue
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.webhooks import sealing

DESCRIPTION = """
Set up a marketing department (goals, objectives, structure, plans, budgets) and run it by KPIs.

**Auth**: `Authorization: Bearer <api key>`. Keys belong to one organisation and have a role:
`admin`, `editor`, `viewer` or `ingest`. Another organisation's ids answer 404.

**Errors** are RFC 9457 problem details (`application/problem+json`) with `type`, `title`, `status`,
`detail`, a `request_id`, and `errors` (one per field) for invalid input.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for one configuration (tests build several)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_logs=settings.log_json)
    sealing.configure(settings.webhook_secret_key.get_secret_value() if settings.webhook_secret_key else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = make_database(settings)
        queue = await make_queue(settings, db)
        if isinstance(queue, InProcessQueue) and settings.run_crons:
            queue.start_crons()
        app.state.kpi = AppState(settings=settings, db=db, queue=queue)
        app.state.auth_throttle = AuthThrottle.from_settings(settings)
        try:
            yield
        finally:
            await app.state.auth_throttle.close()
            await queue.close()
            await db.dispose()

    app = FastAPI(
        title="Marketing department & KPI service",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=openapi.TAGS,
        # Relative: the document's own host, wherever the service runs (behind a proxy too).
        servers=[{"url": "/", "description": "This service"}],
        docs_url=None,  # served from local assets: openapi.install_docs
        redoc_url=None,
        lifespan=lifespan,
        # No query or path parameter, no header may carry text the store cannot hold (bodies: their models).
        dependencies=[Depends(storable_parameters), Depends(json_bodies)],
    )
    install_problem_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        ingest_max_body_bytes=settings.ingest_max_body_bytes,
    )
    app.include_router(health_router)
    for router in (
        orgs_router,
        department_router,
        strategy_router,
        plans_router,
        metrics_router,
        money_router,
        kpis_router,
        ingest_router,
        alerts_router,
        webhooks_router,
        notifications_router,
        reports_router,
        dashboard_router,
    ):
        app.include_router(router)
    document_webhooks(app)
    openapi.install(app)
    openapi.install_docs(app)  # body errors declared on every operation that reads one; problem schemas by media type
    app.state.session_key = session_key(settings)
    return app
