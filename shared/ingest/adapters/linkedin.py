"""LinkedIn Marketing API (`GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY`) → points.

Input: `{"elements": [element, ...], "paging": {...}}`. An element:

    {"pivotValues": ["urn:li:sponsoredCampaign:123456789"],
     "dateRange": {"start": {"year": 2026, "month": 11, "day": 2}, "end": {"year": 2026, "month": 11, "day": 2}},
     "impressions": 1000, "clicks": 20, "costInLocalCurrency": "12.345678901",
     "externalWebsiteConversions": 2, "oneClickLeads": 1, "conversionValueInLocalCurrency": "99.80"}

Counts are JSON numbers, money is a decimal string in the account's currency (not `costInUsd`). LinkedIn returns
only the fields asked for with `fields=`. Older API versions name the pivot `pivotValue` (one string); accepted.

An analytics element does not state its currency: the ad account's is its `currency` (Ad Accounts API). So the
`spend` and `revenue` points take the source's default currency, unless the element carries `currency` — our own
extension, not LinkedIn's field: a relay reading several ad accounts copies each account's `currency` into its
elements.
"""

from datetime import date
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
    describe,
    obj,
)
from shared.ingest.points import AdapterError, Point

CHANNEL = "linkedin"
_CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
# Metric ← fields in priority order (the first one present counts).
_FIELDS = (
    ("spend", ("costInLocalCurrency",)),
    ("impressions", ("impressions",)),
    ("clicks", ("clicks",)),
    # approximateMemberReach replaced approximateUniqueImpressions (deprecated); both are the members reached.
    ("reach", ("approximateMemberReach", "approximateUniqueImpressions")),
    ("conversions", ("externalWebsiteConversions",)),
    ("leads", ("oneClickLeads",)),
    ("revenue", ("conversionValueInLocalCurrency",)),
)


def parse_linkedin(payload: Any, config: AdapterConfig = DEFAULT_CONFIG) -> list[Point]:
    """Snapshot points from one page of daily campaign adAnalytics; AdapterError for anything else."""
    response = obj(payload, "$", 'the adAnalytics response {"elements": [...]}')
    rows = array(response.get("elements"), "elements")
    out = Rows(CHANNEL)
    for i, raw in enumerate(rows):
        where = at("elements", i)
        row = obj(raw, where, "an analytics element")
        on = _day(row, where)
        campaign, campaign_at = _campaign(row, where)
        values = []
        for metric, fields in _FIELDS:
            field = next((f for f in fields if row.get(f) is not None), None)
            if field is not None:
                values.append((metric, amount(row[field], at(where, field)), at(where, field)))
        currency_at = at(where, "currency")
        code = currency(row["currency"], currency_at) if row.get("currency") is not None else None
        out.add(
            campaign,
            on,
            values,
            where,
            day_at=at(at(where, "dateRange"), "start"),
            campaign_at=campaign_at,
            money=(code, currency_at),
        )
    return out.points


def count_linkedin_rows(payload: Any) -> int:
    """How many elements the page carries, counted without reading one (0 for a shape `parse_linkedin` refuses)."""
    rows = payload.get("elements") if isinstance(payload, dict) else None
    return len(rows) if isinstance(rows, list) else 0


def _campaign(row: dict[str, Any], where: str) -> tuple[str, str]:
    """The campaign id and where it was read."""
    if row.get("pivotValues") is None and isinstance(row.get("pivotValue"), str):
        location = at(where, "pivotValue")
        spots = [(location, row["pivotValue"])]
    else:
        location = at(where, "pivotValues")
        pivots = array(row.get("pivotValues"), location, "the pivot values (ask for pivot=CAMPAIGN)")
        spots = [(at(location, j), urn) for j, urn in enumerate(pivots)]
    for spot, urn in spots:
        if isinstance(urn, str) and urn.startswith(_CAMPAIGN_URN):
            return campaign_id(urn.removeprefix(_CAMPAIGN_URN), spot), spot
    raise AdapterError(f"no campaign ({_CAMPAIGN_URN}…) among the pivot values; ask for pivot=CAMPAIGN", location)


def _day(row: dict[str, Any], where: str) -> date:
    location = at(where, "dateRange")
    span = obj(row.get("dateRange"), location, "the dateRange {start, end}")
    start = _date(span.get("start"), at(location, "start"))
    if span.get("end") is not None:
        end = _date(span["end"], at(location, "end"))
        if end != start:
            raise AdapterError(
                f"a daily row is required (timeGranularity=DAILY); this row covers {start}..{end}", where
            )
    return start


def _date(value: Any, location: str) -> date:
    parts = obj(value, location, "a date {year, month, day}")
    numbers = [parts.get(k) for k in ("year", "month", "day")]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise AdapterError("expected whole numbers year, month and day", location)
    try:
        return date(*numbers)  # type: ignore[arg-type]  # checked above: three ints
    except (ValueError, OverflowError):
        shown = "-".join(describe(n) for n in numbers)
        raise AdapterError(f"{shown} is not a calendar date", location) from None
