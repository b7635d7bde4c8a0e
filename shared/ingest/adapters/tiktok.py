"""TikTok (API for Business, synchronous report `/report/integrated/get/`) → points.

Input: one page of a BASIC report at `data_level=AUCTION_CAMPAIGN` with
`dimensions=["campaign_id", "stat_time_day"]`:

    {"code": 0, "message": "OK", "request_id": "...",
     "data": {"list": [{"dimensions": {"campaign_id": "1800000000000001", "stat_time_day": "2026-11-02 00:00:00"},
                        "metrics": {"currency": "USD", "spend": "12.30", "impressions": "1000", "clicks": "20",
                                    "reach": "900", "conversion": "2", "total_complete_payment_rate": "59.80"}}],
              "page_info": {"page": 1, "page_size": 1000, "total_number": 1, "total_page": 1}}}

Metric values are strings in the advertiser's currency. The row states it when the report asks for the attribute
metric `currency` (`metrics=[..., "currency"]`), as `metrics.currency`: the `spend` and `revenue` points carry it;
without it the source's default currency applies. TikTok writes "-" for a metric it has no value for (one not
available for that campaign); that counts as absent. A non-zero `code` is TikTok's error.

Revenue is `total_complete_payment_rate`: despite its name it is TikTok's "Total complete payment value"
(web, the Complete Payment pixel event). `complete_payment` is the *count* of those events and is not
mapped; conversions are `conversion`, the count of the campaign's optimisation event.
"""

import re
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
    day,
    describe,
    obj,
)
from shared.ingest.points import AdapterError, Point

CHANNEL = "tiktok"
_FIELDS = (
    ("spend", "spend"),
    ("impressions", "impressions"),
    ("clicks", "clicks"),
    ("reach", "reach"),
    ("conversion", "conversions"),
    ("total_complete_payment_rate", "revenue"),
)
_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})(?: 00:00:00)?")
_NO_VALUE = "-"


def parse_tiktok(payload: Any, config: AdapterConfig = DEFAULT_CONFIG) -> list[Point]:
    """Snapshot points from one page of a daily campaign report; AdapterError for anything else."""
    response = obj(payload, "$", 'the report response {"code": 0, "data": {"list": [...]}}')
    _check_code(response)
    data = obj(response.get("data"), "data", 'report data {"list": [...]}')
    rows = array(data.get("list"), "data.list")
    out = Rows(CHANNEL)
    for i, raw in enumerate(rows):
        where = at("data.list", i)
        row = obj(raw, where, 'a report row {"dimensions": {...}, "metrics": {...}}')
        dimensions = obj(row.get("dimensions"), at(where, "dimensions"), "the row's dimensions")
        metrics = obj(row.get("metrics"), at(where, "metrics"), "the row's metrics")
        dimensions_at, metrics_at = at(where, "dimensions"), at(where, "metrics")
        on = _day(dimensions, dimensions_at)
        campaign_at = at(dimensions_at, "campaign_id")
        campaign = campaign_id(dimensions.get("campaign_id"), campaign_at)
        values = [
            (metric, amount(metrics[field], at(metrics_at, field)), at(metrics_at, field))
            for field, metric in _FIELDS
            if metrics.get(field) not in (None, _NO_VALUE)
        ]
        currency_at = at(metrics_at, "currency")
        given = metrics.get("currency") not in (None, _NO_VALUE)
        code = currency(metrics["currency"], currency_at) if given else None
        out.add(
            campaign,
            on,
            values,
            where,
            day_at=at(dimensions_at, "stat_time_day"),
            campaign_at=campaign_at,
            money=(code, currency_at),
        )
    return out.points


def _check_code(response: dict[str, Any]) -> None:
    if "code" not in response:
        return
    code = response["code"]
    if isinstance(code, bool) or not isinstance(code, int):
        raise AdapterError("expected TikTok's response code as a number", "code")
    if code != 0:
        message = response.get("message")
        said = message if isinstance(message, str) and message else "no message"
        raise AdapterError(f"TikTok answered with error code {describe(code)}: {said}", "code")


def count_tiktok_rows(payload: Any) -> int:
    """How many rows the page carries, counted without reading one (0 for a shape `parse_tiktok` refuses)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    rows = data.get("list") if isinstance(data, dict) else None
    return len(rows) if isinstance(rows, list) else 0


def _day(dimensions: dict[str, Any], where: str) -> date:
    value = dimensions.get("stat_time_day")
    if value is None:
        hint = " (this report is hourly)" if "stat_time_hour" in dimensions else ""
        raise AdapterError(f"a daily row is required: dimension stat_time_day is missing{hint}", where)
    location = at(where, "stat_time_day")
    match = _MIDNIGHT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise AdapterError(f"expected a day as 'YYYY-MM-DD 00:00:00', got {describe(value)}", location)
    return day(match.group(1), location)
