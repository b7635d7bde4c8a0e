"""Routes: the metric catalogue (`/v1/metrics`), addressed by metric key."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.kpis.definitions import service as kpis
from services.api.kpis.definitions.schemas import KpiOut
from services.api.metrics import service as metrics
from services.api.metrics.schemas import MetricCreate, MetricOut, MetricUpdate
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Page
from shared.metrics.aggregation import Aggregation
from shared.metrics.models import MetricUnit

router = APIRouter(prefix="/v1", tags=["metric catalogue"], responses=V1_ERRORS)
CONFLICT = problem_responses(409)


@router.post("/metrics", status_code=status.HTTP_201_CREATED, response_model=MetricOut, responses=CONFLICT)
async def create_metric(body: MetricCreate, session: SessionDep, _caller: Editor) -> MetricOut:
    """Add a custom base metric to your catalogue, e.g. `demo_requests`.

    `key` (`^[a-z][a-z0-9_]{0,63}$`) is how KPI formulas and ingested points name it; a key already in
    the catalogue is a 409. `aggregation` (default `sum`) says how a window's points combine;
    `allowed_dimensions` (default `["channel", "campaign"]`) the dimensions its points may carry and KPIs
    may filter on. Standard metrics (`spend`, `clicks`, …) already exist in every organisation.
    """
    metric, count = await metrics.create_metric(session, fields=body.model_dump())
    return MetricOut.of(metric, count)


@router.get("/metrics", response_model=Page[MetricOut])
async def list_metrics(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    standard: Annotated[bool | None, Query(description="true: only standard metrics; false: only your own")] = None,
    unit: Annotated[MetricUnit | None, Query(description="Only metrics in this unit")] = None,
    aggregation: Annotated[Aggregation | None, Query(description="Only metrics aggregated this way")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Only metrics whose key or name contains this (any case)")
    ] = None,
) -> Page[MetricOut]:
    """List the metric catalogue: the standard metrics first, then your own in the order they were added.

    Each metric says how many KPI formulas read it (`kpi_count`).
    """
    rows, next_cursor = await metrics.list_metrics(
        session, page=page, standard=standard, unit=unit, aggregation=aggregation, q=q
    )
    return Page[MetricOut](items=[MetricOut.of(m, n) for m, n in rows], next_cursor=next_cursor)


@router.get("/metrics/{key}", response_model=MetricOut)
async def get_metric(key: str, session: SessionDep, _caller: Reader) -> MetricOut:
    """Read one metric of the catalogue by its key, e.g. `/v1/metrics/spend`."""
    metric, count = await metrics.get_metric(session, key=key)
    return MetricOut.of(metric, count)


@router.patch("/metrics/{key}", response_model=MetricOut, responses=CONFLICT)
async def update_metric(key: str, body: MetricUpdate, session: SessionDep, _caller: Editor) -> MetricOut:
    """Change a metric's name, description, allowed dimensions, unit or aggregation; only fields sent change.

    The key never changes. `unit` and `aggregation` change only while no KPI reads the metric (409
    naming the KPIs otherwise: their values and targets assume the current definition). Dropping a
    dimension that a KPI's `dimension_filter` uses is a 409 naming those KPIs.
    """
    metric, count = await metrics.update_metric(session, key=key, changes=body.changes())
    return MetricOut.of(metric, count)


@router.delete("/metrics/{key}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_metric(key: str, session: SessionDep, _caller: Editor) -> Response:
    """Delete one of your own metrics.

    Standard metrics cannot be deleted (409). A metric a KPI formula reads is refused with 409 naming the
    KPIs (`kpis: [{id, name}]`, `referenced_by: {"kpis": n}`): change their formulas or delete them first.
    """
    await metrics.delete_metric(session, key=key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/metrics/{key}/kpis", response_model=Page[KpiOut])
async def list_metric_kpis(key: str, session: SessionDep, _caller: Reader, page: PageDep) -> Page[KpiOut]:
    """The KPIs whose formula reads this metric, oldest first: what a change to the metric's data touches.

    The same as `GET /v1/kpis?metric={key}`, except that an unknown key is a 404.
    """
    views, next_cursor = await kpis.list_metric_kpis(session, key=key, page=page)
    return Page[KpiOut](items=[KpiOut.of(v) for v in views], next_cursor=next_cursor)
