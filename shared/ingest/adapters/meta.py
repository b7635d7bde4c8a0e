"""Meta (Facebook/Instagram) Ads Insights → points.

Input: one page of `GET /{ad-account}/insights?level=campaign&time_increment=1`, i.e.
`{"data": [row, ...], "paging": {...}}`, or the bare list of rows as ETL tools relay them. A row:

    {"campaign_id": "120210000000001", "date_start": "2026-11-02", "date_stop": "2026-11-02",
     "account_currency": "EUR", "spend": "12.34", "impressions": "1000", "clicks": "20", "reach": "800",
     "actions": [{"action_type": "purchase", "value": "2"}, ...],
     "action_values": [{"action_type": "purchase", "value": "99.80"}, ...]}

Numbers come as strings; spend and action values are in the ad account's currency, which the row states in
`account_currency` (an Insights field: ask for it in `fields=`): the `spend` and `revenue` points carry it. A row
without it leaves the currency to the source's default. `conversions`, `leads` and `revenue` come from the action
types of the org's `AdapterConfig`, first present type wins (see there).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from shared.ingest.adapters._common import (
    DEFAULT_CONFIG,
    AdapterConfig,
    Rows,
    amount,
    array,
    at,
    campaign_id,
    currency,
    day,
    obj,
)
from shared.ingest.points import AdapterError, Point

CHANNEL = "meta"
_FIELDS = (("spend", "spend"), ("impressions", "impressions"), ("clicks", "clicks"), ("reach", "reach"))


def parse_meta(payload: Any, config: AdapterConfig = DEFAULT_CONFIG) -> list[Point]:
    """Snapshot points from one page of daily campaign-level Insights; AdapterError for anything else."""
    if isinstance(payload, list):
        rows, base = payload, "$"
    else:
        page = obj(payload, "$", 'the Insights response {"data": [...]}')
        if "data" not in page:
            raise AdapterError('expected the Insights response {"data": [...]}', "$")
        rows, base = array(page["data"], "data"), "data"
    out = Rows(CHANNEL)
    for i, raw in enumerate(rows):
        where = at(base, i)
        row = obj(raw, where, "an Insights row")
        on = _day(row, where)
        campaign_at = at(where, "campaign_id")
        campaign = campaign_id(row.get("campaign_id"), campaign_at)
        values = [
            (metric, amount(row[field], at(where, field)), at(where, field))
            for field, metric in _FIELDS
            if _given(row, field)
        ]
        actions = _actions(row, "actions", where)
        action_values = _actions(row, "action_values", where)
        for metric, types, (source, source_at) in (
            ("conversions", config.meta_conversions, actions),
            ("leads", config.meta_leads, actions),
            ("revenue", config.meta_revenue, action_values),
        ):
            if source is None or not types:
                continue  # the array is not in the row (none at all, or not requested): unknown, not 0
            # The array is there but lacks every type of this metric: Meta reports none of them, a real 0, so
            # a restatement to zero replaces an earlier count.
            value, value_at = next((source[t] for t in types if t in source), (Decimal(0), source_at))
            values.append((metric, value, value_at))
        currency_at = at(where, "account_currency")
        code = currency(row["account_currency"], currency_at) if _given(row, "account_currency") else None
        out.add(
            campaign,
            on,
            values,
            where,
            day_at=at(where, "date_start"),
            campaign_at=campaign_at,
            money=(code, currency_at),
        )
    return out.points


def count_meta_rows(payload: Any) -> int:
    """How many rows the page carries, counted without reading one (0 for a shape `parse_meta` refuses)."""
    rows = payload.get("data") if isinstance(payload, dict) else payload
    return len(rows) if isinstance(rows, list) else 0


def _given(row: dict[str, Any], field: str) -> bool:
    return row.get(field) is not None


def _day(row: dict[str, Any], where: str) -> date:
    start = day(row.get("date_start"), at(where, "date_start"))
    if _given(row, "date_stop"):
        stop = day(row["date_stop"], at(where, "date_stop"))
        if stop != start:
            raise AdapterError(f"a daily row is required (time_increment=1); this row covers {start}..{stop}", where)
    return start


def _actions(row: dict[str, Any], field: str, where: str) -> tuple[dict[str, tuple[Decimal, str]] | None, str]:
    """`[{"action_type": "purchase", "value": "2"}, ...]` as {action type: (value, where it is)}, every entry
    checked (None when the row has no such array), and the array's location."""
    location = at(where, field)
    if not _given(row, field):
        return None, location
    found: dict[str, tuple[Decimal, str]] = {}
    for j, raw in enumerate(array(row[field], location)):
        entry = obj(raw, at(location, j), '{"action_type": ..., "value": ...}')
        action_type = entry.get("action_type")
        if not isinstance(action_type, str) or not action_type:
            raise AdapterError("expected the action type as text", at(at(location, j), "action_type"))
        if action_type in found:
            # Only an action breakdown (action_device, action_destination…) repeats a type; summing or picking
            # one would guess, so refuse.
            raise AdapterError(
                f"action type {action_type!r} is listed twice; request actions without action_breakdowns",
                at(location, j),
            )
        found[action_type] = (amount(entry.get("value"), at(at(location, j), "value")), at(location, j))
    return found, location
