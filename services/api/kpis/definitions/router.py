"""Routes: KPI definitions (`/v1/kpis`) and the KPI template library (`/v1/kpi-templates`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.kpis.definitions import service as kpis
from services.api.kpis.definitions.schemas import KpiCreate, KpiFromTemplate, KpiOut, KpiTemplateOut, KpiUpdate
from services.api.metrics.schemas import KEY_PATTERN
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page
from shared.kpis.evaluation import Direction
from shared.kpis.models import KpiCategory, KpiKind

router = APIRouter(tags=["kpis"])
CONFLICT = problem_responses(409)


# ---------------------------------------------------------------- KPIs


@router.post("/kpis", status_code=status.HTTP_201_CREATED, response_model=KpiOut, responses=CONFLICT)
async def create_kpi(body: KpiCreate, session: SessionDep, _caller: Editor) -> KpiOut:
    """Define a KPI: a formula over metric keys, its category, direction, frequency, owner and objectives.

    The formula is checked on write: a syntax error is a 422 with the parser's message and the 0-based
    `position`; metrics missing from your catalogue are a 422 naming all of them (`unknown_metrics`).
    Every `dimension_filter` key must be an allowed dimension of every metric the formula reads (422
    naming it). `owner_team_id`, `owner_member_id` and each `objectives[].objective_id` must exist in your
    organisation (422 naming the field). A name already used (ignoring case) is a 409. The response lists
    the metrics the formula reads (`metrics`) and the objective links (`objectives`).
    """
    return KpiOut.of(await kpis.create_kpi(session, fields=body.model_dump()))


@router.get("/kpis", response_model=Page[KpiOut])
async def list_kpis(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    category: Annotated[KpiCategory | None, Query(description="input, output or impact")] = None,
    kind: Annotated[KpiKind | None, Query(description="quantitative or qualitative")] = None,
    direction: Annotated[Direction | None, Query(description="Only KPIs with this direction")] = None,
    owner_team_id: Annotated[uuid.UUID | None, Query(description="Only KPIs this team owns")] = None,
    owner_member_id: Annotated[uuid.UUID | None, Query(description="Only KPIs this person owns")] = None,
    objective_id: Annotated[uuid.UUID | None, Query(description="Only KPIs measuring this objective")] = None,
    metric: Annotated[
        str | None, Query(pattern=KEY_PATTERN, description="Only KPIs whose formula reads this metric key")
    ] = None,
    template_key: Annotated[str | None, Query(max_length=64, description="Only KPIs made from this template")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Only KPIs whose name contains this (any case)")] = None,
) -> Page[KpiOut]:
    """List your organisation's KPIs, oldest first, each with its metrics and objective links.

    Filters combine (AND). A page costs the same few queries whatever its size.
    """
    views, next_cursor = await kpis.list_kpis(
        session,
        page=page,
        category=category,
        kind=kind,
        direction=direction,
        owner_team_id=owner_team_id,
        owner_member_id=owner_member_id,
        objective_id=objective_id,
        metric=metric,
        template_key=template_key,
        q=q,
    )
    return Page[KpiOut](items=[KpiOut.of(v) for v in views], next_cursor=next_cursor)


@router.get("/kpis/{kpi_id}", response_model=KpiOut)
async def get_kpi(kpi_id: uuid.UUID, session: SessionDep, _caller: Reader) -> KpiOut:
    """Read one KPI with the metrics its formula reads and the objectives it measures."""
    return KpiOut.of(await kpis.get_kpi(session, kpi_id=kpi_id))


@router.patch("/kpis/{kpi_id}", response_model=KpiOut, responses=CONFLICT)
async def update_kpi(kpi_id: uuid.UUID, body: KpiUpdate, session: SessionDep, _caller: Editor) -> KpiOut:
    """Change a KPI; only the fields sent change, `null` clears an optional one (description, owners…).

    A new `formula` is validated like on create and replaces the KPI's metric dependencies; a new
    `dimension_filter` is checked against the (new) formula's metrics. `objectives`, when sent, replaces
    every link (`[]` unlinks all). Changing `direction` is a 409 while the KPI has targets (their
    thresholds were set for the old direction). Nothing is written when any check fails.
    """
    view = await kpis.update_kpi(session, kpi_id=kpi_id, changes=body.changes())
    return KpiOut.of(view)


@router.delete("/kpis/{kpi_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_kpi(kpi_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a KPI together with its targets, their revision history, its metric dependencies and its
    objective links. The metrics and objectives themselves stay."""
    await kpis.delete_kpi(session, kpi_id=kpi_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- templates


@router.get("/kpi-templates", response_model=Page[KpiTemplateOut])
async def list_kpi_templates(
    session: SessionDep,
    _caller: Reader,
    category: Annotated[KpiCategory | None, Query(description="input, output or impact")] = None,
) -> Page[KpiTemplateOut]:
    """The library of standard marketing KPIs (CPC, CTR, ROAS, CAC, NPS…) to start from, all on one page.

    Each says what it measures, its formula, unit, direction, suggested pacing for targets and display
    format, and `missing_metrics`: metrics your catalogue lacks (such a template cannot be used).
    `next_cursor` is always null: the library is small and static.
    """
    views = await kpis.list_templates(session, category=category)
    return Page[KpiTemplateOut](items=[KpiTemplateOut.of(v) for v in views], next_cursor=None)


@router.get("/kpi-templates/{key}", response_model=KpiTemplateOut)
async def get_kpi_template(key: str, session: SessionDep, _caller: Reader) -> KpiTemplateOut:
    """Read one KPI template by key, e.g. `/v1/kpi-templates/cpc`."""
    return KpiTemplateOut.of(await kpis.get_template(session, key=key))


@router.post(
    "/kpi-templates/{key}/kpis", status_code=status.HTTP_201_CREATED, response_model=KpiOut, responses=CONFLICT
)
async def create_kpi_from_template(
    key: str, session: SessionDep, _caller: Editor, body: KpiFromTemplate | None = None
) -> KpiOut:
    """Create a KPI from a template in one call; the body (optional) holds your own choices.

    Formula, category, unit, direction and display format come from the template, which the KPI
    remembers (`template_key`). `name` defaults to the template's (409 if you already have a KPI of that
    name: send another), `description` to its explanation. A template reading a metric your catalogue
    lacks is a 422 naming it; `dimension_filter`, owners and objectives are checked as on `POST /v1/kpis`.
    """
    fields = (body or KpiFromTemplate()).model_dump()
    return KpiOut.of(await kpis.create_from_template(session, key=key, fields=fields))
