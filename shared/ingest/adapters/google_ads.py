"""Google Ads (GoogleAdsService search / searchStream) → points.

Input, any of:
- the `search` response `{"results": [row, ...], "fieldMask": ..., ...}`;
- the `searchStream` response: a list of such chunks `[{"results": [...]}, ...]`;
- a bare list of rows.

A row is the API's nested camelCase JSON, `{"campaign": {"id": "123"}, "segments": {"date": "2026-11-02"},
"metrics": {"costMicros": "1500000", "conversions": 2.5}}`, or flattened with dotted keys as ETL tools relay it
(`{"campaign.id": 123, "segments.date": "2026-11-02", "metrics.cost_micros": 1500000}`), camelCase or
snake_case. The query must select `campaign.id` and `segments.date` and no other segment.

int64 fields (costMicros, impressions, clicks) come as strings in the API's JSON, doubles (conversions,
conversionsValue) as numbers; both forms are accepted everywhere. Cost is in micros of the account currency:
1,000,000 micros = 1 unit, converted exactly. Cost and conversions value are in the account's currency, which a
query selecting `customer.currency_code` states on every row (`{"customer": {"currencyCode": "EUR"}}`, or
flattened `customer.currency_code`): the `spend` and `revenue` points carry it; without it the source's default
currency applies.
"""

import re
from collections.abc import Callable
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
    micros,
    obj,
)
from shared.ingest.points import AdapterError, Point

CHANNEL = "google_ads"
# Keys of a response chunk (SearchGoogleAdsResponse / SearchGoogleAdsStreamResponse), as opposed to a row's.
_CHUNK_KEYS = frozenset({"results", "fieldMask", "requestId", "summaryRow", "nextPageToken", "totalResultsCount"})
# Normalised (snake_case, dotted) field → metric and reader.
_FIELDS: tuple[tuple[str, str, Callable[[Any, str], Decimal]], ...] = (
    ("metrics.cost_micros", "spend", micros),
    ("metrics.impressions", "impressions", amount),
    ("metrics.clicks", "clicks", amount),
    ("metrics.conversions", "conversions", amount),
    ("metrics.conversions_value", "revenue", amount),
)
_CURRENCY = "customer.currency_code"
_MAX_DEPTH = 10
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def parse_google_ads(payload: Any, config: AdapterConfig = DEFAULT_CONFIG) -> list[Point]:
    """Snapshot points from daily campaign rows of a search or searchStream response; AdapterError otherwise."""
    out = Rows(CHANNEL)
    for where, raw in _rows(payload):
        row = _flatten(obj(raw, where, "a result row"), where)
        day_at, campaign_at = _where(row, "segments.date", where), _where(row, "campaign.id", where)
        on = day(_get(row, "segments.date", where), day_at)
        campaign = campaign_id(_get(row, "campaign.id", where), campaign_at)
        values = [
            (metric, read(row[field][1], row[field][0]), row[field][0])
            for field, metric, read in _FIELDS
            if field in row and row[field][1] is not None
        ]
        currency_at = _where(row, _CURRENCY, where)
        given = _CURRENCY in row and row[_CURRENCY][1] is not None
        code = currency(row[_CURRENCY][1], currency_at) if given else None
        out.add(campaign, on, values, where, day_at=day_at, campaign_at=campaign_at, money=(code, currency_at))
    return out.points


def count_google_ads_rows(payload: Any) -> int:
    """How many result rows the response carries, counted without reading one (a searchStream's chunks add up)."""

    def results(chunk: Any) -> int:
        found = chunk.get("results") if isinstance(chunk, dict) else None
        return len(found) if isinstance(found, list) else 0

    if isinstance(payload, dict):
        return results(payload)
    if not isinstance(payload, list):
        return 0
    return sum(results(item) if isinstance(item, dict) and not _CHUNK_KEYS.isdisjoint(item) else 1 for item in payload)


def _rows(payload: Any) -> list[tuple[str, Any]]:
    """(location, row) of every result row, whichever of the three shapes the payload has."""
    if isinstance(payload, dict):
        return _chunk_rows(payload, "$")
    rows = array(payload, "$", 'a search response {"results": [...]} or a list of rows or chunks')
    if any(isinstance(item, dict) and not _CHUNK_KEYS.isdisjoint(item) for item in rows):
        found: list[tuple[str, Any]] = []
        for i, chunk in enumerate(rows):
            found.extend(_chunk_rows(chunk, at("$", i)))
        return found
    return [(at("$", i), row) for i, row in enumerate(rows)]


def _chunk_rows(chunk: Any, where: str) -> list[tuple[str, Any]]:
    chunk = obj(chunk, where, 'a response chunk {"results": [...]}')
    if _CHUNK_KEYS.isdisjoint(chunk):
        raise AdapterError('expected a response chunk {"results": [...]}', where)
    if chunk.get("results") is None:  # a stream chunk or page with no rows carries only fieldMask/requestId
        return []
    location = at(where, "results")
    return [(at(location, i), row) for i, row in enumerate(array(chunk["results"], location))]


def _flatten(row: dict[str, Any], where: str) -> dict[str, tuple[str, Any]]:
    """{normalised dotted path: (location, value)} of everything in the row; `metrics.costMicros` and
    `{"metrics": {"cost_micros": …}}` both become `metrics.cost_micros`."""
    flat: dict[str, tuple[str, Any]] = {}

    def walk(node: dict[str, Any], path: str, location: str) -> None:
        if path.count(".") >= _MAX_DEPTH:  # a row is 2-3 levels deep; json.loads allows ~1000, our stack not
            raise AdapterError(f"nested deeper than {_MAX_DEPTH} levels", location)
        for key, value in node.items():
            name = ".".join(_CAMEL.sub("_", part).lower() for part in key.split("."))
            full, spot = (f"{path}.{name}" if path else name), at(location, key)
            if full in flat:
                raise AdapterError(f"given twice (also at {flat[full][0]})", spot)
            flat[full] = (spot, value)  # objects too, so a metric given as an object is an error, not absent
            if isinstance(value, dict):
                walk(value, full, spot)

    walk(row, "", where)
    return flat


def _get(row: dict[str, tuple[str, Any]], field: str, where: str) -> Any:
    if field not in row or row[field][1] is None:
        raise AdapterError(f"{field} is missing; select campaign.id and segments.date", at(where, field))
    return row[field][1]


def _where(row: dict[str, tuple[str, Any]], field: str, where: str) -> str:
    return row[field][0] if field in row else at(where, field)
