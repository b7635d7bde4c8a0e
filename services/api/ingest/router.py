"""Routes: push metrics (generic batches and ad-platform payloads), and read batches back."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from services.api.deps import Ingestor, Principal, SessionDep, StateDep, require_role
from services.api.ingest import reading, service
from services.api.ingest.schemas import BatchAccepted, BatchOut, MetricBatchIn
from services.api.ingest.sources import service as sources
from services.api.ingest.sources.router import router as sources_router
from services.api.openapi import body_documented_as
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, Unprocessable, problem_responses
from services.api.schemas import Page
from shared.ingest.adapters import ADAPTERS, ROW_COUNTS
from shared.ingest.currency import ingest_context, priced
from shared.ingest.models import BatchStatus
from shared.ingest.points import AdapterError
from shared.ingest.rows import staged_rows
from shared.orgs.models import Role

# Whoever pushes may follow their batches; viewers may read them too.
BatchReader = Annotated[Principal, Depends(require_role(Role.admin, Role.editor, Role.viewer, Role.ingest))]
router = APIRouter(prefix="/v1/ingest", tags=["ingestion"], responses=V1_ERRORS)
ACCEPT_RESPONSES = {
    200: {"model": BatchAccepted, "description": "A replay of an idempotency key: the original batch"},
    **problem_responses(409, 413),
}
IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, description="Makes a retried push safe")
]


async def _accepted(session: SessionDep, response: Response, caller, **kwargs) -> BatchAccepted:
    accepted = await service.accept_batch(session, by_key_id=caller.key_id, **kwargs)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return BatchAccepted(batch_id=accepted.batch_id, status=accepted.status)


@router.post(
    "/metrics",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchAccepted,
    responses=ACCEPT_RESPONSES,
    # The body is read from its bytes by `reading.read_batch` (not by the framework), and documented as the model
    # that is its contract.
    openapi_extra=body_documented_as(MetricBatchIn),
)
async def push_metrics(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Ingestor,
    state: StateDep,
    idempotency_key: IdempotencyHeader = None,
) -> BatchAccepted:
    """Push a batch of metric points (needs a key with role `ingest`, `editor` or `admin`).

    A batch of more points than the service takes (`INGEST_MAX_POINTS`, 100,000 by default) is a 413 before any
    point is validated. The whole batch is validated first: one bad point is a 422 naming it (`body.points.3.value`,
    `body.points.3.dimensions.campaign` for text with a NUL), unknown metrics are listed, and nothing is stored.
    Accepted, the batch is stored durably and answered with `202 {batch_id, status}`; a worker then merges it.
    Follow it at `GET /v1/ingest/batches/{batch_id}`.

    The same `Idempotency-Key` (header, or `idempotency_key` in the body) with the same points from the same source
    is the same batch (`200` with it), however the JSON was spelled; with other points it is a 409.
    """
    limit = state.settings.ingest_max_points
    context = await ingest_context(session, caller.org_id)
    batch = reading.read_batch(
        await request.body(), request.headers.get("content-type"), lambda n: service.check_size(n, limit), context
    )
    return await _accepted(
        session,
        response,
        caller,
        source=batch.source,
        rows=batch.rows,
        points=batch.points,
        idempotency_key=idempotency_key or batch.idempotency_key,
    )


@router.post(
    "/{source}", status_code=status.HTTP_202_ACCEPTED, response_model=BatchAccepted, responses=ACCEPT_RESPONSES
)
async def push_platform_report(
    source: str,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Ingestor,
    state: StateDep,
    payload: Annotated[
        Any,
        Body(
            examples=[
                {
                    "data": [
                        {
                            "date_start": "2026-11-02",
                            "date_stop": "2026-11-02",
                            "campaign_id": "120210",
                            "spend": "132.47",
                            "impressions": "10450",
                            "clicks": "212",
                        }
                    ]
                }
            ]
        ),
    ],
    idempotency_key: IdempotencyHeader = None,
    signature: Annotated[
        str | None,
        Header(
            alias=sources.SIGNATURE_HEADER,
            description="`sha256=<hex HMAC-SHA256 of the raw body>`; required once the organisation set a signing "
            "secret for the source (`PUT /v1/ingest/sources/{source}/signing-secret`)",
        ),
    ] = None,
) -> BatchAccepted:
    """Push a report as an ad platform's API returns it: `meta` (Insights), `google_ads` (search/searchStream,
    nested or flattened), `tiktok` (integrated report), `linkedin` (adAnalytics).

    Each row becomes `snapshot` points with dimensions `channel` (the platform) and `campaign`, units
    normalised (Google's micros, strings, Meta's action arrays); which Meta action types count as conversions,
    leads and revenue is the organisation's setting (`/v1/ingest/sources/meta/config`). A row the platform would
    not send daily is refused (422 says so), and every error names the report's row and field
    (`body.data[1].date_start`); see docs/domains/ingest-adapters.md for the field mapping.

    A report with no rows (`{"data": []}`: a paused account, a day without delivery) is accepted as an empty batch,
    `done` at once with 0 points, so a daily export does not fail on quiet days.

    Once the organisation set a signing secret for the source, a push without a valid `X-Hub-Signature-256`
    (Meta's scheme: `sha256=` + hex HMAC-SHA256 of the exact body bytes) is a 401 and nothing is stored.
    """
    sources.check_source(source)
    setup = await sources.source_setup(session, source=source)
    if setup.signing_secret is not None:
        sources.verify_signature(setup.signing_secret, await request.body(), signature)
    service.check_report_size(ROW_COUNTS[source](payload), state.settings.ingest_max_points)
    service.check_storable(payload, await request.body())
    try:
        points = ADAPTERS[source](payload, setup.config)
    except AdapterError as exc:
        where = service.in_body(exc.location)
        raise Unprocessable(
            f"{where}: {exc.message}", errors=[{"location": where, "message": exc.message, "type": "report_field"}]
        ) from exc
    service.check_size(len(points), state.settings.ingest_max_points)
    context = await ingest_context(session, caller.org_id)
    points = priced(points, context.money, context.default_currency(source, None))
    return await _accepted(
        session,
        response,
        caller,
        source=source,
        rows=staged_rows(source, points),
        points=lambda: points,
        idempotency_key=idempotency_key,
    )


def _batch_out(batch) -> BatchOut:
    latency = None
    if batch.finished_at is not None:
        latency = round((batch.finished_at - batch.created_at).total_seconds() * 1000, 1)
    fields = {name: getattr(batch, name) for name in BatchOut.model_fields if name != "latency_ms"}
    return BatchOut(**fields, latency_ms=latency)


@router.get("/batches/{batch_id}", response_model=BatchOut)
async def get_batch(batch_id: uuid.UUID, session: SessionDep, _: BatchReader) -> BatchOut:
    """A batch's status (`pending`, `processing`, `done`, `failed` with its error), counts and timings."""
    return _batch_out(await service.get_batch(session, batch_id=batch_id))


@router.get("/batches", response_model=Page[BatchOut])
async def list_batches(
    session: SessionDep,
    _: BatchReader,
    page: PageDep,
    status_: Annotated[BatchStatus | None, Query(alias="status")] = None,
    source: str | None = None,
) -> Page[BatchOut]:
    """The organisation's ingest batches, oldest first; filter by status or source."""
    batches, cursor = await service.list_batches(session, page=page, status=status_, source=source)
    return Page[BatchOut](items=[_batch_out(b) for b in batches], next_cursor=cursor)


router.include_router(sources_router)
