"""KPI definitions: a validated formula over catalogue metrics, its metric dependencies, objective links;
and KPIs created from the template library."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound, Unprocessable
from shared.alerts.evaluate import reset_target_state
from shared.db.base import utcnow
from shared.department.models import Member, Team
from shared.jobs.handles import EVALUATE_KPIS
from shared.kpis.evaluation import Direction
from shared.kpis.formula import Formula, FormulaError, parse_formula
from shared.kpis.models import Kpi, KpiCategory, KpiKind, KpiMetric, KpiTarget, ObjectiveKpi
from shared.kpis.templates import KPI_TEMPLATES, TEMPLATES_BY_KEY, KpiTemplate
from shared.metrics.models import MetricDefinition
from shared.strategy.models import Objective

# The catalogue has no `kind`; these templates read survey scores, entered by hand or pushed.
QUALITATIVE_TEMPLATES = frozenset({"nps", "brand_awareness"})
# Changing either changes what the KPI measures, so its evaluation restarts from a clean state.
REDEFINING_FIELDS = ("formula", "dimension_filter")


@dataclass(frozen=True)
class KpiView:
    """A KPI with what its response shows beside its own columns."""

    kpi: Kpi
    metrics: list[str]
    objectives: list[tuple[uuid.UUID, Decimal]]


async def _views(session: AsyncSession, kpis: Sequence[Kpi]) -> list[KpiView]:
    """Each KPI with its metric keys and objective links: two queries for the whole page."""
    if not kpis:
        return []
    ids = [k.id for k in kpis]
    metrics: dict[uuid.UUID, list[str]] = {}
    rows = await session.execute(
        select(KpiMetric.kpi_id, KpiMetric.metric_key).where(KpiMetric.kpi_id.in_(ids)).order_by(KpiMetric.metric_key)
    )
    for kpi_id, key in rows:
        metrics.setdefault(kpi_id, []).append(key)
    links: dict[uuid.UUID, list[tuple[uuid.UUID, Decimal]]] = {}
    weights = await session.execute(
        select(ObjectiveKpi.kpi_id, ObjectiveKpi.objective_id, ObjectiveKpi.weight)
        .where(ObjectiveKpi.kpi_id.in_(ids))
        .order_by(ObjectiveKpi.objective_id)
    )
    for kpi_id, objective_id, weight in weights:
        links.setdefault(kpi_id, []).append((objective_id, weight))
    return [KpiView(k, metrics.get(k.id, []), links.get(k.id, [])) for k in kpis]


# ---------------------------------------------------------------- validation


def _invalid(location: str, message: str, kind: str, **extra: Any) -> Unprocessable:
    error = {"location": location, "message": message, "type": kind}
    return Unprocessable(f"{location}: {message}", errors=[error], **extra)


def parse(text: str, *, location: str = "body.formula") -> Formula:
    """The parsed formula, or 422 with the parser's message and the 0-based `position` it went wrong at."""
    try:
        formula = parse_formula(text)
    except FormulaError as exc:
        raise _invalid(location, str(exc), "formula_syntax", position=exc.position) from exc
    if not formula.metrics:
        raise _invalid(location, "the formula reads no metric; a KPI needs at least one", "formula_no_metric")
    return formula


async def check_metrics(
    session: AsyncSession, formula: Formula, dimension_filter: dict[str, str], *, location: str = "body.formula"
) -> None:
    """422 naming every metric the formula reads that the catalogue lacks, or a filter dimension one disallows."""
    rows = await session.execute(
        select(MetricDefinition.key, MetricDefinition.allowed_dimensions).where(
            MetricDefinition.key.in_(formula.metrics)
        )
    )
    allowed = {key: set(dims) for key, dims in rows}
    unknown = sorted(formula.metrics - allowed.keys())
    if unknown:
        listed = ", ".join(unknown)
        noun = "metric" if len(unknown) == 1 else "metrics"
        raise _invalid(
            location,
            f"unknown {noun} {listed}: not in your metric catalogue (GET /v1/metrics; add one with POST /v1/metrics)",
            "unknown_metric",
            unknown_metrics=unknown,
        )
    errors = []
    for dimension in dimension_filter:
        refusing = sorted(key for key, dims in allowed.items() if dimension not in dims)
        if refusing:
            errors.append(
                {
                    "location": f"body.dimension_filter.{dimension}",
                    "message": f"dimension {dimension!r} is not an allowed dimension of metric "
                    + ", ".join(f"{key} (allowed: {', '.join(sorted(allowed[key])) or 'none'})" for key in refusing),
                    "type": "dimension_not_allowed",
                }
            )
    if errors:
        raise Unprocessable(f"{errors[0]['location']}: {errors[0]['message']}", errors=errors)


async def _check_name_free(session: AsyncSession, name: str, *, except_id: uuid.UUID | None = None) -> None:
    stmt = select(Kpi.id).where(func.lower(Kpi.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Kpi.id != except_id)
    existing = await session.scalar(stmt.limit(1))
    if existing is not None:
        raise Conflict(f"A KPI named {name!r} already exists ({existing}).", existing_id=str(existing))


async def _check_refs(session: AsyncSession, fields: dict[str, Any]) -> None:
    """422 naming each owner or objective id that is not one of this organisation's."""
    owners = (("owner_team_id", Team), ("owner_member_id", Member))
    refs: dict[str, tuple[type, uuid.UUID | None]] = {
        name: (model, fields[name]) for name, model in owners if name in fields
    }
    for i, link in enumerate(fields.get("objectives") or []):
        refs[f"objectives.{i}.objective_id"] = (Objective, link["objective_id"])
    await require_refs(session, refs)


def _link_rows(kpi_id: uuid.UUID, links: list[dict[str, Any]]) -> list[ObjectiveKpi]:
    return [ObjectiveKpi(kpi_id=kpi_id, objective_id=link["objective_id"], weight=link["weight"]) for link in links]


# ---------------------------------------------------------------- KPIs


async def create_kpi(session: AsyncSession, *, fields: dict[str, Any], template_key: str | None = None) -> KpiView:
    """A new KPI: name free, formula parsed and over known metrics, filter allowed, owners and objectives ours."""
    fields = dict(fields)
    links = fields.pop("objectives", [])
    await _check_name_free(session, fields["name"])
    location = "path.key" if template_key else "body.formula"
    formula = parse(fields["formula"], location=location)
    await check_metrics(session, formula, fields["dimension_filter"], location=location)
    await _check_refs(session, {**fields, "objectives": links})
    kpi = Kpi(**fields, template_key=template_key)
    session.add(kpi)
    await session.flush()
    # One batched INSERT per table (the unit of work batches rows of one mapper whose keys are all given).
    session.add_all([KpiMetric(kpi_id=kpi.id, metric_key=key) for key in sorted(formula.metrics)])
    session.add_all(_link_rows(kpi.id, links))
    await session.flush()
    return KpiView(kpi, sorted(formula.metrics), sorted((link["objective_id"], link["weight"]) for link in links))


async def get_kpi(session: AsyncSession, *, kpi_id: uuid.UUID) -> KpiView:
    """One KPI with its metrics and objective links, or 404."""
    [view] = await _views(session, [await get_or_404(session, Kpi, kpi_id)])
    return view


async def list_kpis(
    session: AsyncSession,
    *,
    page: PageParams,
    category: KpiCategory | None = None,
    kind: KpiKind | None = None,
    direction: Direction | None = None,
    owner_team_id: uuid.UUID | None = None,
    owner_member_id: uuid.UUID | None = None,
    objective_id: uuid.UUID | None = None,
    metric: str | None = None,
    template_key: str | None = None,
    q: str | None = None,
) -> tuple[list[KpiView], str | None]:
    """The organisation's KPIs, oldest first, with metrics and objective links (three queries a page)."""
    stmt = select(Kpi)
    for column, value in (
        (Kpi.category, category),
        (Kpi.kind, kind),
        (Kpi.direction, direction),
        (Kpi.owner_team_id, owner_team_id),
        (Kpi.owner_member_id, owner_member_id),
        (Kpi.template_key, template_key),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if objective_id is not None:
        stmt = stmt.where(Kpi.id.in_(select(ObjectiveKpi.kpi_id).where(ObjectiveKpi.objective_id == objective_id)))
    if metric is not None:
        stmt = stmt.where(Kpi.id.in_(select(KpiMetric.kpi_id).where(KpiMetric.metric_key == metric)))
    if q:
        stmt = stmt.where(func.lower(Kpi.name).contains(q.lower(), autoescape=True))
    kpis, next_cursor = await fetch_page(session, stmt, Kpi.id, page)
    return await _views(session, kpis), next_cursor


async def list_metric_kpis(session: AsyncSession, *, key: str, page: PageParams) -> tuple[list[KpiView], str | None]:
    """The KPIs whose formula reads a metric; 404 when the catalogue has no such metric."""
    if await session.scalar(select(MetricDefinition.id).where(MetricDefinition.key == key)) is None:
        raise NotFound(f"No metric {key!r} in the catalogue.")
    return await list_kpis(session, page=page, metric=key)


async def update_kpi(session: AsyncSession, *, kpi_id: uuid.UUID, changes: dict[str, Any]) -> KpiView:
    """Change the fields a PATCH carried; the merged formula and filter are validated again.

    A new formula replaces the KPI's metric dependencies; `objectives` replaces every link. A new formula or
    dimension filter changes what the KPI measures: its targets' alert states restart from a clean state and
    the KPI is re-evaluated after the commit, as when a target's levels are edited. The direction cannot change
    while targets exist (their thresholds were set for it).
    """
    kpi = await get_or_404(session, Kpi, kpi_id)
    changes = dict(changes)
    links = changes.pop("objectives", None)
    if "name" in changes:
        await _check_name_free(session, changes["name"], except_id=kpi.id)
    formula = parse(changes.get("formula", kpi.formula))
    if "formula" in changes or "dimension_filter" in changes:
        await check_metrics(session, formula, changes.get("dimension_filter", kpi.dimension_filter))
    if changes.get("direction", kpi.direction) != kpi.direction:
        # The targets domain's lock (an UPDATE of the KPI row): no target is added while we count them.
        await session.execute(
            update(Kpi).where(Kpi.id == kpi.id).values(version=Kpi.version + 1),
            execution_options={"synchronize_session": False},
        )
        targets = await session.scalar(select(func.count(KpiTarget.id)).where(KpiTarget.kpi_id == kpi.id))
        if targets:
            noun = "target" if targets == 1 else "targets"
            raise Conflict(
                f"KPI {kpi.id} has {targets} {noun} set for {kpi.direction.value}; delete them before changing "
                "its direction.",
                referenced_by={"targets": targets},
            )
    await _check_refs(session, {**changes, "objectives": links})
    if "formula" in changes:
        await session.execute(
            delete(KpiMetric).where(KpiMetric.kpi_id == kpi.id).execution_options(synchronize_session=False)
        )
        session.add_all([KpiMetric(kpi_id=kpi.id, metric_key=key) for key in sorted(formula.metrics)])
    if links is not None:
        await session.execute(
            delete(ObjectiveKpi).where(ObjectiveKpi.kpi_id == kpi.id).execution_options(synchronize_session=False)
        )
        session.add_all(_link_rows(kpi.id, links))
        changes["updated_at"] = utcnow()  # a change of links is a change of the KPI
    redefined = any(field in changes and changes[field] != getattr(kpi, field) for field in REDEFINING_FIELDS)
    apply_changes(kpi, changes)
    if redefined:
        await _restart_evaluation(session, kpi)
    await session.flush()
    [view] = await _views(session, [kpi])
    return view


async def _restart_evaluation(session: AsyncSession, kpi: Kpi) -> None:
    """The KPI measures something else now: its targets' states are forgotten and every started target is
    evaluated again (after the commit) with the new definition."""
    targets = (
        await session.execute(select(KpiTarget.id, KpiTarget.start_date).where(KpiTarget.kpi_id == kpi.id))
    ).all()
    if not targets:
        return
    await reset_target_state(session, *(target_id for target_id, _ in targets))
    EVALUATE_KPIS.defer(
        session,
        org_id=str(kpi.org_id),
        kpi_ids=[str(kpi.id)],
        since=min(start for _, start in targets).isoformat(),
        trigger="target_change",
    )


async def delete_kpi(session: AsyncSession, *, kpi_id: uuid.UUID) -> None:
    """Delete a KPI with its targets, their revisions, its metric dependencies and objective links (cascade)."""
    kpi = await get_or_404(session, Kpi, kpi_id)
    await session.delete(kpi)
    await session.flush()


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class TemplateView:
    """A template with the metrics it reads and those the organisation's catalogue lacks."""

    template: KpiTemplate
    kind: KpiKind
    metrics: list[str]
    missing_metrics: list[str]


def _kind_of(template: KpiTemplate) -> KpiKind:
    return KpiKind.qualitative if template.key in QUALITATIVE_TEMPLATES else KpiKind.quantitative


def _template(key: str) -> KpiTemplate:
    template = TEMPLATES_BY_KEY.get(key)
    if template is None:
        raise NotFound(f"No KPI template {key!r}; GET /v1/kpi-templates lists them.")
    return template


async def _template_views(session: AsyncSession, templates: Sequence[KpiTemplate]) -> list[TemplateView]:
    """Each template with its metrics and the ones missing from the catalogue (one query for all)."""
    reads = {t.key: sorted(parse_formula(t.formula).metrics) for t in templates}
    wanted = {key for keys in reads.values() for key in keys}
    stmt = select(MetricDefinition.key).where(MetricDefinition.key.in_(wanted))
    have = set((await session.scalars(stmt)).all()) if wanted else set()
    return [TemplateView(t, _kind_of(t), reads[t.key], [m for m in reads[t.key] if m not in have]) for t in templates]


async def list_templates(session: AsyncSession, *, category: KpiCategory | None) -> list[TemplateView]:
    """The template library in its own order, optionally one category."""
    return await _template_views(session, [t for t in KPI_TEMPLATES if category is None or t.category == category])


async def get_template(session: AsyncSession, *, key: str) -> TemplateView:
    """One template, or 404."""
    [view] = await _template_views(session, [_template(key)])
    return view


async def create_from_template(session: AsyncSession, *, key: str, fields: dict[str, Any]) -> KpiView:
    """A KPI from a template with the organisation's own name, filter, owner, frequency and objectives."""
    template = _template(key)
    kpi_fields = {
        **fields,
        "name": fields.get("name") or template.name,
        "description": fields.get("description") or template.explanation,
        "kind": fields.get("kind") or _kind_of(template),
        "category": KpiCategory(template.category),
        "formula": template.formula,
        "unit": template.unit,
        "display_format": template.display_format,
        "direction": template.direction,
    }
    return await create_kpi(session, fields=kpi_fields, template_key=template.key)
