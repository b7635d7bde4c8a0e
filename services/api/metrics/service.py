"""The metric catalogue: standard and custom base metrics, the guards that keep KPIs reading them valid."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound
from shared.kpis.models import Kpi, KpiMetric
from shared.metrics.aggregation import Aggregation
from shared.metrics.models import MetricDefinition, MetricSource, MetricUnit

# How many KPIs a refused change names in its detail (all of them are counted).
NAMED_IN_CONFLICT = 5

MetricWithCount = tuple[MetricDefinition, int]


async def _kpi_counts(session: AsyncSession, keys: Sequence[str]) -> dict[str, int]:
    """How many KPIs read each metric key: one grouped COUNT for the whole page."""
    if not keys:
        return {}
    stmt = (
        select(KpiMetric.metric_key, func.count()).where(KpiMetric.metric_key.in_(keys)).group_by(KpiMetric.metric_key)
    )
    return dict((await session.execute(stmt)).all())


async def kpis_reading(session: AsyncSession, key: str) -> list[tuple[uuid.UUID, str, dict[str, str]]]:
    """(id, name, dimension_filter) of every KPI whose formula reads the metric, oldest first."""
    stmt = (
        select(Kpi.id, Kpi.name, Kpi.dimension_filter)
        .join(KpiMetric, KpiMetric.kpi_id == Kpi.id)
        .where(KpiMetric.metric_key == key)
        .order_by(Kpi.id)
    )
    return [(kpi_id, name, dims) for kpi_id, name, dims in (await session.execute(stmt)).all()]


def _refused(key: str, why: str, kpis: Sequence[tuple[uuid.UUID, str, Any]], fix: str) -> Conflict:
    named = kpis[:NAMED_IN_CONFLICT]
    listed = ", ".join(f'"{name}" ({kpi_id})' for kpi_id, name, _ in named)
    more = f" and {len(kpis) - len(named)} more" if len(kpis) > len(named) else ""
    noun = "KPI" if len(kpis) == 1 else "KPIs"
    return Conflict(
        f"Metric {key!r} {why}: {len(kpis)} {noun} read it: {listed}{more}. {fix}",
        referenced_by={"kpis": len(kpis)},
        kpis=[{"id": str(kpi_id), "name": name} for kpi_id, name, _ in named],
    )


async def _load(session: AsyncSession, key: str) -> MetricDefinition:
    metric = await session.scalar(select(MetricDefinition).where(MetricDefinition.key == key))
    if metric is None:
        raise NotFound(f"No metric {key!r} in the catalogue.")
    return metric


async def create_metric(session: AsyncSession, *, fields: dict[str, Any]) -> MetricWithCount:
    """A new custom metric; its key must be new in the organisation."""
    existing = await session.scalar(select(MetricDefinition.id).where(MetricDefinition.key == fields["key"]))
    if existing is not None:
        raise Conflict(f"A metric with key {fields['key']!r} already exists ({existing}).", existing_id=str(existing))
    metric = MetricDefinition(**fields, standard=False)
    session.add(metric)
    await session.flush()
    return metric, 0


async def list_metrics(
    session: AsyncSession,
    *,
    page: PageParams,
    standard: bool | None,
    unit: MetricUnit | None,
    aggregation: Aggregation | None,
    q: str | None,
) -> tuple[list[MetricWithCount], str | None]:
    """The catalogue, standard metrics first (they were created with the organisation), then by creation."""
    stmt = select(MetricDefinition)
    if standard is not None:
        stmt = stmt.where(MetricDefinition.standard.is_(standard))
    if unit is not None:
        stmt = stmt.where(MetricDefinition.unit == unit)
    if aggregation is not None:
        stmt = stmt.where(MetricDefinition.aggregation == aggregation)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(MetricDefinition.key).contains(needle, autoescape=True),
                func.lower(MetricDefinition.name).contains(needle, autoescape=True),
            )
        )
    metrics, next_cursor = await fetch_page(session, stmt, MetricDefinition.id, page)
    counts = await _kpi_counts(session, [m.key for m in metrics])
    return [(m, counts.get(m.key, 0)) for m in metrics], next_cursor


async def _has_data(session: AsyncSession, key: str) -> bool:
    """Whether any source has reported the metric (metric_sources, kept by the merge)."""
    return (
        await session.scalar(select(MetricSource.metric_key).where(MetricSource.metric_key == key).limit(1))
    ) is not None


async def get_metric(session: AsyncSession, *, key: str) -> MetricWithCount:
    """One metric by key, or 404."""
    metric = await _load(session, key)
    counts = await _kpi_counts(session, [key])
    return metric, counts.get(key, 0)


async def update_metric(session: AsyncSession, *, key: str, changes: dict[str, Any]) -> MetricWithCount:
    """Change name, description and dimensions; unit and aggregation only while no KPI reads the metric.

    Dropping a dimension a KPI's dimension filter uses is refused too: that KPI could never match a point.
    """
    metric = await _load(session, key)
    readers = await kpis_reading(session, key)
    changed = [f for f in ("unit", "aggregation") if f in changes and changes[f] != getattr(metric, f)]
    if changed and readers:
        raise _refused(
            key,
            f"cannot change its {' and '.join(changed)}",
            readers,
            "Their values and targets were set for the current definition; create a new metric instead.",
        )
    if "unit" in changed and MetricUnit.currency in (metric.unit, changes["unit"]) and await _has_data(session, key):
        raise Conflict(
            f"Metric {key!r} has data: its unit cannot change to or from currency (its stored amounts carry a "
            "currency, or none, and would be read wrongly); create a new metric instead.",
        )
    if "allowed_dimensions" in changes:
        dropped = set(metric.allowed_dimensions) - set(changes["allowed_dimensions"])
        filtering = [r for r in readers if dropped & set(r[2])]
        if filtering:
            names = ", ".join(sorted(dropped & {d for r in filtering for d in r[2]}))
            raise _refused(
                key,
                f"cannot drop the dimension {names}",
                filtering,
                "Their dimension filters use it; change those KPIs first.",
            )
    apply_changes(metric, changes)
    await session.flush()
    return metric, len(readers)


async def delete_metric(session: AsyncSession, *, key: str) -> None:
    """Delete a custom metric no KPI reads; standard metrics stay (409)."""
    metric = await _load(session, key)
    if metric.standard:
        raise Conflict(
            f"Metric {key!r} is part of the standard catalogue and cannot be deleted: ad-platform adapters and "
            "KPI templates rely on it. Leave it unused instead."
        )
    readers = await kpis_reading(session, key)
    if readers:
        raise _refused(key, "cannot be deleted", readers, "Change their formulas or delete them first.")
    await session.delete(metric)
    await session.flush()
