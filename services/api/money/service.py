"""Exchange rates: stored in bulk (JSON or CSV), listed, deleted; a change re-evaluates the KPIs that read money
from the first day it converts differently (as restated data does)."""

import csv
import io
from datetime import date
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.money.schemas import MAX_RATES, FxRateIn, FxRateOut, FxRatesPage, FxRatesStored
from services.api.problems import NotFound, Unprocessable
from shared.alerts.models import EvaluationTrigger
from shared.db.base import utcnow
from shared.db.engine import is_postgres
from shared.db.scoping import bound_org
from shared.jobs.handles import EVALUATE_KPIS
from shared.kpis.models import KpiMetric
from shared.metrics.models import MetricDefinition, MetricUnit
from shared.money.models import FxRate

CSV_COLUMNS = ("day", "from", "to", "rate")
_CHUNK = 2_000  # rows per INSERT: 6 parameters each stays under SQLite's 32,766


def rates_from_csv(text: str) -> list[FxRateIn]:
    """The rates of a CSV upload: a header naming `day,from,to,rate` (any order, any case), one rate per line.
    Every bad line is named (`body.line[3].rate`), nothing is stored."""
    reader = csv.reader(io.StringIO(text, newline=""))  # "" reads CRLF, LF and a bare CR (old Excel) alike
    try:
        return _read_csv(reader)
    except csv.Error as exc:  # a field past the csv module's limit, a NUL…
        line = reader.line_num
        raise Unprocessable(
            f"body.line[{line}]: {exc}", errors=[{"location": f"body.line[{line}]", "message": str(exc), "type": "csv"}]
        ) from exc


def _read_csv(reader) -> list[FxRateIn]:
    header = [h.strip().lower() for h in next(reader, [])]
    if sorted(header) != sorted(CSV_COLUMNS):
        raise Unprocessable(
            f"The CSV header must name the columns {','.join(CSV_COLUMNS)} (any order); it names {','.join(header)}.",
            errors=[
                {"location": "body.line[1]", "message": "expected the header day,from,to,rate", "type": "csv_header"}
            ],
        )
    rates: list[FxRateIn] = []
    errors: list[dict[str, str]] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(rates) + len(errors) >= MAX_RATES:
            raise Unprocessable(
                f"At most {MAX_RATES} rates per request; split the file.",
                errors=[{"location": "body", "message": f"more than {MAX_RATES} rates", "type": "too_long"}],
            )
        if len(row) != len(header):
            errors.append(
                {"location": f"body.line[{number}]", "message": f"{len(row)} fields, expected 4", "type": "csv_row"}
            )
            continue
        try:
            rates.append(FxRateIn.model_validate({k: v.strip() for k, v in zip(header, row, strict=True)}))
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                where = ".".join(str(part) for part in e["loc"] if part != "from_") or "row"
                errors.append({"location": f"body.line[{number}].{where}", "message": e["msg"], "type": e["type"]})
    if errors:
        raise Unprocessable(f"{errors[0]['location']}: {errors[0]['message']}", errors=errors[:50])
    if not rates:
        raise Unprocessable(
            "The CSV has no rates.", errors=[{"location": "body", "message": "no rates", "type": "too_short"}]
        )
    return rates


async def store_rates(session: AsyncSession, rates: list[FxRateIn]) -> FxRatesStored:
    """Insert or replace each (day, from, to) rate; a key twice in one request is refused. Only what changes is
    written, and only a change re-evaluates."""
    keys: dict[tuple[str, str, date], Decimal] = {}
    twice = []
    for i, r in enumerate(rates):
        key = (r.from_, r.to, r.day)
        if key in keys:
            twice.append({"location": f"body.rates[{i}]", "message": f"{r.from_}→{r.to} on {r.day} again"})
        keys[key] = r.rate
    if twice:
        raise Unprocessable(f"{twice[0]['location']}: {twice[0]['message']}: one rate per pair and day.", errors=twice)
    stored = {
        (base, quote, day): rate
        for base, quote, day, rate in await session.execute(
            select(FxRate.base, FxRate.quote, FxRate.day, FxRate.rate).where(
                tuple_(FxRate.base, FxRate.quote).in_({(b, q) for b, q, _ in keys}),
                FxRate.day.between(min(d for _, _, d in keys), max(d for _, _, d in keys)),
            )
        )
    }
    changed = [(key, rate) for key, rate in keys.items() if stored.get(key) != rate]
    if changed:
        org_id, now = bound_org(session), utcnow()
        dialect = postgresql if is_postgres(session) else sqlite
        for start in range(0, len(changed), _CHUNK):
            rows = [
                {"org_id": org_id, "base": b, "quote": q, "day": d, "rate": rate, "updated_at": now}
                for (b, q, d), rate in changed[start : start + _CHUNK]
            ]
            insert = dialect.insert(FxRate).values(rows)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["org_id", "base", "quote", "day"],
                    set_={"rate": insert.excluded.rate, "updated_at": insert.excluded.updated_at},
                )
            )
    since = min((d for (_, _, d), _ in changed), default=None)
    if since is not None:
        await reevaluate_money_kpis(session, since)
    return FxRatesStored(received=len(rates), changed=len(changed), reevaluating_since=since)


async def reevaluate_money_kpis(session: AsyncSession, since: date) -> None:
    """Re-evaluate (after the commit) the organisation's KPIs whose formula reads a money metric, from a day."""
    kpi_ids = (
        await session.scalars(
            select(KpiMetric.kpi_id)
            .join(MetricDefinition, MetricDefinition.key == KpiMetric.metric_key)
            .where(MetricDefinition.unit == MetricUnit.currency, MetricDefinition.org_id == KpiMetric.org_id)
            .distinct()
        )
    ).all()
    if kpi_ids:
        EVALUATE_KPIS.defer(
            session,
            org_id=str(bound_org(session)),
            kpi_ids=sorted(str(k) for k in kpi_ids),
            since=since.isoformat(),
            trigger=EvaluationTrigger.fx_rates.value,
        )


async def delete_rate(session: AsyncSession, *, base: str, quote: str, day: date) -> None:
    deleted = await session.execute(
        delete(FxRate).where(FxRate.base == base, FxRate.quote == quote, FxRate.day == day).returning(FxRate.day)
    )
    if deleted.first() is None:
        raise NotFound(f"No {base}→{quote} rate on {day}.")
    await reevaluate_money_kpis(session, day)


async def list_rates(
    session: AsyncSession,
    *,
    base: str | None,
    quote: str | None,
    start: date | None,
    end: date | None,
    limit: int,
    cursor: str | None,
) -> FxRatesPage:
    """The organisation's rates by pair, then day; a page at a time (the cursor is the last row's key)."""
    stmt = select(FxRate)
    if base is not None:
        stmt = stmt.where(FxRate.base == base)
    if quote is not None:
        stmt = stmt.where(FxRate.quote == quote)
    if start is not None:
        stmt = stmt.where(FxRate.day >= start)
    if end is not None:
        stmt = stmt.where(FxRate.day <= end)
    if cursor is not None:
        try:
            b, q, d = cursor.split(":")
            after = (b, q, date.fromisoformat(d))
        except ValueError as exc:
            raise Unprocessable(
                "cursor is not one this API issued", errors=[{"location": "query.cursor", "message": "invalid"}]
            ) from exc
        stmt = stmt.where(tuple_(FxRate.base, FxRate.quote, FxRate.day) > after)
    rows = (await session.scalars(stmt.order_by(FxRate.base, FxRate.quote, FxRate.day).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [FxRateOut(day=r.day, from_=r.base, to=r.quote, rate=_plain(r.rate)) for r in rows]
    last = rows[-1] if more else None
    return FxRatesPage(items=items, next_cursor=f"{last.base}:{last.quote}:{last.day}" if last else None)


def _plain(rate: Decimal) -> str:
    return format(Decimal(rate).normalize(), "f")
