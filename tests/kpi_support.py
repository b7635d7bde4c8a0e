"""Test helpers for the KPI domain: KPIs and daily roll-ups written straight to the database."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert

from shared.db.scoping import bind_org
from shared.ingest.merge import rebuild_slices
from shared.kpis.formula import parse_formula
from shared.kpis.models import Kpi, KpiMetric
from shared.metrics.models import MetricDaily
from shared.metrics.partitions import ensure_months


async def make_kpi(
    state, org_id, *, name="Leads", formula="leads", direction="higher_is_better", **fields
) -> uuid.UUID:
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        kpi = Kpi(
            name=name,
            formula=formula,
            direction=direction,
            category=fields.pop("category", "output"),
            unit=fields.pop("unit", "count"),
            **fields,
        )
        session.add(kpi)
        await session.flush()
        for key in parse_formula(formula).metrics:
            session.add(KpiMetric(kpi_id=kpi.id, metric_key=key))
        await session.commit()
        return kpi.id


async def put_daily(state, org_id, metric: str, start: date, values: list, dimensions: dict | None = None) -> None:
    """One roll-up row a day from `start` (None skips the day)."""
    dims = dimensions or {}
    rows = [
        {
            "org_id": org_id,
            "metric_key": metric,
            "day": start + timedelta(days=i),
            "dims_key": json.dumps(dims, sort_keys=True),
            "dimensions": dims,
            "value_sum": Decimal(str(v)),
            "value_count": 1,
            "value_min": Decimal(str(v)),
            "value_max": Decimal(str(v)),
            "value_last": Decimal(str(v)),
            "last_at": datetime.combine(start + timedelta(days=i), time(12), UTC),
        }
        for i, v in enumerate(values)
        if v is not None
    ]
    async with state.db.sessionmaker() as session:
        # Roll-ups written other than by a merge: their month partitions first (Postgres), committed on their own.
        await ensure_months(session, min(r["day"] for r in rows), max(r["day"] for r in rows))
        await session.commit()
        bind_org(session, org_id)
        await session.execute(insert(MetricDaily), rows)
        await rebuild_slices(session, org_id)
        await session.commit()
