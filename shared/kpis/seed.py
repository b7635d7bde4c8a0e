"""Give a new organisation the standard metric catalogue (one bulk INSERT)."""

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import uuid7
from shared.kpis.catalog import STANDARD_METRICS
from shared.kpis.models import MetricDefinition


async def seed_standard_metrics(session: AsyncSession, *, org_id) -> None:
    """Insert every standard metric for the organisation; the org's own metrics are added later via the API."""
    rows = [
        {
            "id": uuid7(),
            "org_id": org_id,
            "key": m.key,
            "name": m.name,
            "description": m.description,
            "unit": m.unit,
            "aggregation": m.aggregation,
            "allowed_dimensions": list(m.allowed_dimensions),
            "standard": True,
        }
        for m in STANDARD_METRICS
    ]
    await session.execute(insert(MetricDefinition), rows)
