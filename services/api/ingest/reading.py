"""Reading a generic batch (`POST /v1/ingest/metrics`) from its bytes, once, into the rows the worker COPYs.

`MetricBatchIn` (schemas.py) is the contract: what it accepts is accepted, and its errors are the errors a caller
sees. Reading a body with it point by point costs most of a push (framework JSON → dicts → models → points → JSON
again), so a batch is first read the fast way, set by set:

- msgspec decodes the body straight from bytes into small structs, each point's `value` and `dimensions` kept as
  their raw JSON text (no Decimal, no dict per point);
- what the contract checks per field is checked on the distinct values instead: metrics, timestamps, modes and
  dimension objects repeat across a batch, so each distinct one is validated (timestamps by the contract's own
  type, dimension objects by its rules) and normalised once; values are checked in one regular-expression pass
  over all of them (plain decimals, at most 16 digits before the point and 8 after: what the contract's
  Decimal(max_digits=24, decimal_places=8) and the store's numeric(24, 8) hold);
- the columns are written as COPY text, a chunk of points at a time (`shared.ingest.rows.RowsWriter`).

The fast way only ever accepts a subset of what the contract accepts, and normalises it the same way. Anything
else — a value in exponent form or with spaces, a string the contract would strip, text with a `\\u` escape that
may hide a NUL, a type mismatch, invalid JSON — sends the whole body down the contract's own path (JSON decoded
as FastAPI does, `MetricBatchIn` validated, errors located in the body), which accepts or refuses it exactly as a
declared body parameter would. So the two paths cannot disagree on what is accepted, only on how fast.

Per distinct value the rules are the contract's rules; errors that need a point's place (an unknown metric at
`body.points.3.metric`) are named by the per-point pass in the service, run only when the set-wise check fails.
"""

import email.message
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from services.api.ingest.schemas import DIMENSION_NAME, MAX_DIMENSION_VALUE, MAX_DIMENSIONS, MetricBatchIn
from services.api.problems import UnsupportedMediaType, invalid_json
from services.api.text import may_hold_unstorable, readable
from shared.ingest.currency import IngestContext, priced
from shared.ingest.points import Mode, Point
from shared.ingest.rows import RowsWriter, StagedRows
from shared.metrics.keys import CURRENCY_DIMENSION, dims_key
from shared.money.currencies import is_currency
from shared.orgs.clock import local_day

# Points decoded and written per chunk: memory stays that of a chunk, not of the body.
CHUNK = 20_000
_MODES = frozenset(m.value for m in Mode)
_SOURCE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# One JSON value per line: a plain decimal, as a number or a string, written as Decimal writes it back (no leading
# zero, no exponent), so both ways store the same text. ASCII digits only (a bytes pattern).
_PLAIN_VALUES = re.compile(rb'(?:"?-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,8})?"?\n)*')
_TIMESTAMP: TypeAdapter[datetime | date] = TypeAdapter(datetime | date)  # PointIn.timestamp's type
_METRIC_MAX = 64


class _Point(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    metric: str
    value: msgspec.Raw
    timestamp: str
    dimensions: msgspec.Raw = msgspec.Raw(b"{}")
    mode: str = Mode.snapshot.value
    currency: str | None = None


class _Body(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    points: list[msgspec.Raw]
    source: str = "api"
    idempotency_key: str | None = None
    currency: str | None = None


_BODY = msgspec.json.Decoder(_Body)
_POINTS = msgspec.json.Decoder(list[_Point])
_DIMENSIONS = msgspec.json.Decoder(dict[str, str])


class _NotFast(Exception):
    """The body is not one the fast way takes: read it by the contract."""


@dataclass(frozen=True)
class ReadBatch:
    source: str
    idempotency_key: str | None
    rows: StagedRows
    # The batch as points, each knowing its place (`body.points.3`): built only when validation must name one.
    points: Callable[[], list[Point]]


def read_batch(
    raw: bytes, content_type: str | None, check_size: Callable[[int], None], context: IngestContext
) -> ReadBatch:
    """The batch in `raw`, normalised (days local to the organisation, money amounts with their currency:
    `context`); a 422 (`RequestValidationError`) as the contract words it, a 400 for bytes that are not text, or
    what `check_size` raises for too many points — counted before any point is validated."""
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            f"A batch is JSON: send Content-Type: application/json (got {readable(content_type or '')})."
        )
    try:
        return _read_fast(raw, check_size, context)
    except _NotFast:
        pass
    return _read_by_contract(raw, content_type, check_size, context)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _read_fast(raw: bytes, check_size: Callable[[int], None], context: IngestContext) -> ReadBatch:
    if may_hold_unstorable(raw):
        raise _NotFast
    try:
        body = _BODY.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _NotFast from exc
    check_size(len(body.points))
    key = body.idempotency_key
    if (
        not body.points
        or not _SOURCE.fullmatch(body.source)
        or (key is not None and not (0 < len(key) <= 200 and key == key.strip()))
        or (body.currency is not None and not is_currency(body.currency))
    ):
        raise _NotFast
    writer = RowsWriter(body.source)
    days: dict[str, str] = {}  # timestamp as sent → its local day
    dimensions: dict[tuple[bytes, str | None], str] = {}  # (dimension object as sent, currency) → canonical key
    money, default = context.money, context.default_currency(body.source, body.currency)
    seen_metrics: set[str] = set()
    raws = body.points
    for start in range(0, len(raws), CHUNK):
        try:
            points = _POINTS.decode(b"[" + b",".join(raws[start : start + CHUNK]) + b"]")
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _NotFast from exc
        metrics = [p.metric for p in points]
        timestamps = [p.timestamp for p in points]
        modes = [p.mode for p in points]
        dims = [bytes(p.dimensions) for p in points]
        currencies = [p.currency for p in points]
        values = b"\n".join([bytes(p.value) for p in points]) + b"\n"
        del points
        new_metrics = set(metrics).difference(seen_metrics)
        if any(len(m) > _METRIC_MAX or m != m.strip() for m in new_metrics) or not _MODES.issuperset(modes):
            raise _NotFast
        seen_metrics |= new_metrics
        if not _PLAIN_VALUES.fullmatch(values):
            raise _NotFast
        for timestamp in set(timestamps).difference(days):
            days[timestamp] = _local_day(timestamp, context.time_zone).isoformat()
        # Each point's currency: its own for a money metric, else the batch's or source's default; none otherwise.
        of_metric = {m: default if m in money else None for m in set(metrics)}
        chosen = list(map(of_metric.__getitem__, metrics))
        if any(c is not None for c in currencies):
            if not all(is_currency(c) for c in set(currencies) if c is not None):
                raise _NotFast
            chosen = [
                c if c is not None and m in money else d for m, c, d in zip(metrics, currencies, chosen, strict=True)
            ]
        keyed = list(zip(dims, chosen, strict=True))
        for text, currency in set(keyed).difference(dimensions):
            dimensions[text, currency] = _dimension_key(text, currency)
        writer.add(
            metrics,
            list(map(days.__getitem__, timestamps)),
            list(map(dimensions.__getitem__, keyed)),
            values.replace(b'"', b"").decode().split("\n")[:-1],
            modes,
        )
    return ReadBatch(
        body.source, key, writer.finish(), lambda: _read_by_contract(raw, None, lambda _: None, context).points()
    )


def _local_day(timestamp: str, time_zone: str) -> date:
    try:
        parsed = _TIMESTAMP.validate_python(timestamp)
    except ValidationError as exc:
        raise _NotFast from exc
    return local_day_of(parsed, time_zone)


def local_day_of(timestamp: datetime | date, time_zone: str) -> date:
    """The organisation's day a point's timestamp falls on: a date as given, an aware time's date in the
    organisation's time zone, a naive (local) time's date."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            return timestamp.date()
        return local_day(timestamp, time_zone)
    return timestamp


def _dimension_key(text: bytes, currency: str | None) -> str:
    """The canonical key of a dimension object as sent, checked by the contract's rules (`PointIn._dimensions`),
    with a money amount's currency."""
    try:
        dims = _DIMENSIONS.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _NotFast from exc
    if len(dims) > MAX_DIMENSIONS or CURRENCY_DIMENSION in dims:
        raise _NotFast
    for name, value in dims.items():
        if not DIMENSION_NAME.match(name) or not 0 < len(value) <= MAX_DIMENSION_VALUE or value != value.strip():
            raise _NotFast
    return dims_key(dims if currency is None else {**dims, CURRENCY_DIMENSION: currency})


def _read_by_contract(
    raw: bytes, content_type: str | None, check_size: Callable[[int], None], context: IngestContext
) -> ReadBatch:
    """The body read as a declared `MetricBatchIn` parameter would be: FastAPI's JSON decoding and errors (but a
    number with a fraction read exactly, not through a float), the model's validation (errors under `body`), then
    the points."""
    payload: Any = raw
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    if _is_json(content_type):
        try:
            payload = json.loads(raw, parse_float=Decimal)  # a JSON number read exactly, as the fast way does
        except json.JSONDecodeError as exc:
            raise invalid_json(exc) from exc
        except ValueError as exc:  # not UTF-8/16/32 text
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    if isinstance(payload, dict) and isinstance(payload.get("points"), list):
        check_size(len(payload["points"]))
    try:
        body = MetricBatchIn.model_validate(payload)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc
    zone = context.time_zone
    points = priced(
        (
            Point(p.metric, p.value, local_day_of(p.timestamp, zone), p.dimensions, p.mode, currency=p.currency)
            for p in body.points
        ),
        context.money,
        context.default_currency(body.source, body.currency),
    )
    writer = RowsWriter(body.source)
    writer.add_points(points)
    return ReadBatch(body.source, body.idempotency_key, writer.finish(), lambda: points)
