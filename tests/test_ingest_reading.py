"""The fast reading of a generic batch agrees with its contract (`MetricBatchIn`) on every body: the same rows (so
the same fingerprint) or the same refusal; and plain bodies do take the fast way."""

import json
import zlib
from datetime import date
from decimal import Decimal

import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from services.api.ingest import reading
from services.api.problems import PayloadTooLarge
from shared.ingest.currency import IngestContext
from shared.ingest.points import Mode, Point
from shared.ingest.rows import copy_escaped, iter_rows, staged_rows
from shared.metrics.keys import dims_key


def no_limit(_: int) -> None:
    return None


# An organisation in UTC whose money metrics are spend and revenue, and whose source `crm` defaults to EUR.
CTX = IngestContext("UTC", frozenset({"spend", "revenue"}), {"crm": "EUR"})
HANOI = IngestContext("Asia/Ho_Chi_Minh", CTX.money, {})
NEW_YORK = IngestContext("America/New_York", CTX.money, {})


def p(value, timestamp="2026-11-02", metric="spend", **extra):
    return {"metric": metric, "value": value, "timestamp": timestamp, **extra}


def body(*points, **extra) -> bytes:
    return json.dumps({"points": list(points), **extra}, ensure_ascii=False).encode()


PLAIN = [
    body(p("120.5"), p(3, metric="clicks", dimensions={"channel": "meta", "campaign": "bf"})),
    body(p("-0.00000001"), p("1234567890123456.12345678"), p(0), p("-0"), p("1.50")),
    body(
        p(1, "2026-11-02T23:30:00-02:00"),
        p(1, "20261102"),
        p(2, "2026-11-02T23:30:00+07:00"),
        p(3, "2026-11-02T10:00:00"),
    ),
    body(p(1, mode="increment"), p(2, mode="snapshot"), p(3, mode="increment"), source="crm", idempotency_key="k-1"),
    body(p(1, dimensions={"campaign": "Sữa chua 🍓", "channel": 'quote " and \\ backslash'})),
    body(p(1, dimensions={"b": "2", "a": "1"}), p(2, dimensions={"a": "1", "b": "2"})),
    b'{"points":[{"metric":"spend","value":1.5,"timestamp":"2026-11-02"}],"idempotency_key":null}',
    b'{"points":[{"metric":"spend","value":1234567890123456.12345678,"timestamp":"2026-11-02"}]}',
    body(p(1, currency="USD"), p(2), p(3, metric="clicks", currency="USD"), currency="VND"),
    body(p(1), p(2, metric="revenue", currency="JPY"), source="crm"),
    body(p(1, currency="USD"), p(2, currency="VND", dimensions={"channel": "google_ads"})),
]
# Bodies the fast way hands to the contract: accepted (normalised by it) or refused by it.
OTHER = [
    body(p("1e3")),
    body(p("007")),
    body(p(" 1")),
    body(p("NaN")),
    body(p("Infinity")),
    body(p("1.000000001")),
    body(p("12345678901234567")),
    body(p(True)),
    body(p(None)),
    body(p("1", metric=" spend ")),
    body(p("1", metric="x" * 65)),
    body(p("1", dimensions={"channel": " meta"})),
    body(p("1", dimensions={"Channel": "meta"})),
    body(p("1", dimensions={"channel": ""})),
    body(p("1", dimensions={"channel": "x" * 201})),
    body(p("1", dimensions={f"d{i}": "x" for i in range(9)})),
    body(p("1", dimensions=None)),
    body(p("1", dimensions=["a"])),
    body(p("1", dimensions={"channel": 3})),
    body(p("1", mode="replace")),
    body(p("1", currency="usd")),
    body(p("1", currency="XXX")),
    body(p("1", currency="DEM")),
    body(p("1"), currency=" vnd"),
    body(p("1"), currency="ABC"),
    body(p("1", currency=3)),
    body(p("1", dimensions={"currency": "USD"})),
    body(p("1", timestamp="2026-13-02")),
    body(p("1", timestamp=1_700_000_000)),
    body(p("1", timestamp="2026-11-02T25:00:00Z")),
    body(p("1", extra_field=1)),
    body(p("1"), source="Bad Source"),
    body(p("1"), idempotency_key=" k "),
    body(p("1"), idempotency_key=""),
    body(p("1"), unknown=1),
    body(p("\\u0031")),
    body(p("1", dimensions={"channel": "a\u0000b"})),
    body(),
    b'{"points": {}}',
    b'{"points": [1]}',
    b"[]",
    b"null",
    b"",
    b"{",
    b'{"points": [{"metric": "spend", "value": 1, "timestamp": "2026-11-02"},]}',
    json.dumps({"points": [p("1")]}).encode("utf-16"),
    b"\xff\xfe\x00",
]


def outcome(read):
    """What a reading gives: its rows as text with source, key and count, or its refusal as the caller sees it."""
    try:
        batch = read()
    except RequestValidationError as exc:
        return ("422", [(e["loc"], e["type"]) for e in exc.errors()])
    except HTTPException as exc:
        return (str(exc.status_code), exc.detail)
    return (
        batch.source,
        batch.idempotency_key,
        batch.rows.count,
        batch.rows.digest,
        zlib.decompress(batch.rows.data).decode(),
    )


@pytest.mark.parametrize("raw", PLAIN + OTHER, ids=range(len(PLAIN + OTHER)))
def test_the_fast_reading_agrees_with_the_contract(raw):
    fast = outcome(lambda: reading.read_batch(raw, "application/json", no_limit, CTX))
    contract = outcome(lambda: reading._read_by_contract(raw, "application/json", no_limit, CTX))
    assert fast == contract


@pytest.mark.parametrize("raw", PLAIN, ids=range(len(PLAIN)))
def test_plain_bodies_take_the_fast_way(raw):
    batch = reading._read_fast(raw, no_limit, CTX)  # raises _NotFast otherwise
    assert batch.rows.count == len(json.loads(raw)["points"])


@pytest.mark.parametrize("raw", OTHER, ids=range(len(OTHER)))
def test_everything_else_is_read_by_the_contract(raw):
    with pytest.raises((reading._NotFast, PayloadTooLarge)):
        reading._read_fast(raw, no_limit, CTX)


def test_a_timestamp_falls_on_its_local_day_and_the_rows_keep_push_order():
    raw = body(
        p(1, "2026-11-02T23:30:00-02:00", mode="increment"),  # 01:30 UTC on the 3rd
        p(2, "2026-11-02T06:00:00+07:00"),  # 23:00 UTC on the 1st
        p(3, "2026-11-02", dimensions={"b": "2", "a": "1"}),
    )
    rows = list(iter_rows(reading.read_batch(raw, None, no_limit, CTX).rows.data))
    assert [(seq, day.isoformat(), key, value, mode) for seq, _, day, key, value, mode in rows] == [
        (0, "2026-11-03", "{}", "1", "increment"),
        (1, "2026-11-01", "{}", "2", "snapshot"),
        (2, "2026-11-02", '{"a":"1","b":"2"}', "3", "snapshot"),
    ]


def _days(raw: bytes, context: IngestContext) -> list[str]:
    fast = [day.isoformat() for _, _, day, *_ in iter_rows(reading.read_batch(raw, None, no_limit, context).rows.data)]
    slow = reading._read_by_contract(raw, None, no_limit, context).points()
    assert fast == [point.day.isoformat() for point in slow]
    return fast


def test_timestamps_land_on_the_organisations_local_day_both_ways():
    raw = body(
        p(1, "2026-11-30T23:30:00Z", metric="clicks"),  # 06:30 on 1 December in Hanoi (UTC+7)
        p(2, "2026-11-30T16:59:59Z", metric="clicks"),  # 23:59:59 on 30 November there
        p(3, "2026-11-30", metric="clicks"),  # a date is the local day as given
        p(4, "2026-11-30T23:30:00", metric="clicks"),  # a time without an offset is a local time
    )
    assert _days(raw, HANOI) == ["2026-12-01", "2026-11-30", "2026-11-30", "2026-11-30"]
    assert _days(raw, CTX) == ["2026-11-30", "2026-11-30", "2026-11-30", "2026-11-30"]
    # New York falls back on 1 November 2026 at 06:00Z (02:00 EDT → 01:00 EST): local midnight is 04:00Z before the
    # change and 05:00Z after it; it springs forward on 8 March 2026 (midnight then is 05:00Z, the day after 04:00Z).
    dst = body(
        p(1, "2026-11-01T03:59:59Z", metric="clicks"),
        p(2, "2026-11-01T04:00:00Z", metric="clicks"),
        p(3, "2026-11-02T04:59:59Z", metric="clicks"),
        p(4, "2026-11-02T05:00:00Z", metric="clicks"),
        p(5, "2026-03-08T04:59:59Z", metric="clicks"),
        p(6, "2026-03-09T03:59:59Z", metric="clicks"),
        p(7, "2026-03-09T04:00:00Z", metric="clicks"),
    )
    assert _days(dst, NEW_YORK) == [
        "2026-10-31",
        "2026-11-01",
        "2026-11-01",
        "2026-11-02",
        "2026-03-07",
        "2026-03-08",
        "2026-03-09",
    ]


def test_money_points_carry_their_currency_in_the_key_and_others_do_not():
    raw = body(
        p(1, currency="USD", dimensions={"channel": "meta"}),
        p(2, dimensions={"channel": "google_ads"}),
        p(3, metric="clicks", currency="USD"),
        p(4, metric="revenue"),
        currency="VND",
    )
    rows = list(iter_rows(reading.read_batch(raw, None, no_limit, CTX).rows.data))
    assert [(metric, key) for _, metric, _, key, *_ in rows] == [
        ("spend", '{"channel":"meta","currency":"USD"}'),
        ("spend", '{"channel":"google_ads","currency":"VND"}'),
        ("clicks", "{}"),
        ("revenue", '{"currency":"VND"}'),
    ]
    # Without a batch currency the source's default applies; with neither the point has none (validation refuses).
    crm = [
        key
        for _, _, _, key, *_ in iter_rows(reading.read_batch(body(p(1), source="crm"), None, no_limit, CTX).rows.data)
    ]
    bare = [key for _, _, _, key, *_ in iter_rows(reading.read_batch(body(p(1)), None, no_limit, CTX).rows.data)]
    assert (crm, bare) == (['{"currency":"EUR"}'], ["{}"])


def test_the_same_points_spelled_otherwise_have_the_same_fingerprint_and_others_do_not():
    def digest(raw):
        return reading.read_batch(raw, None, no_limit, CTX).rows.digest

    first = digest(body(p("1.50", dimensions={"a": "1", "b": "2"})))
    assert first == digest(
        b'{ "points" : [ {"timestamp":"2026-11-02T00:00:00Z","value":1.50,"metric":"spend",'
        b'"dimensions":{"b":"2","a":"1"},"mode":"snapshot"} ] }'
    )
    assert first != digest(body(p("1.5", dimensions={"a": "1", "b": "2"})))  # another decimal text: kept as sent
    assert first != digest(body(p("1.50", dimensions={"a": "1", "b": "2"}), source="crm"))
    assert first != digest(body(p("1.50", dimensions={"a": "1", "b": "2"}, mode="increment")))


def test_the_point_count_is_checked_before_any_point_is_validated():
    calls = []

    def limit(n: int) -> None:
        calls.append(n)
        raise PayloadTooLarge("too many")

    raw = body(*[p("not a number")] * 5)
    with pytest.raises(PayloadTooLarge):
        reading.read_batch(raw, None, limit, CTX)
    assert calls == [5]


def test_rows_round_trip_with_backslashes_and_quotes_in_dimensions():
    dims = {"campaign": 'a\\b "c" \t tab', "channel": "é"}
    points = [Point("spend", Decimal("1E+3"), date(2026, 11, 2), dims, Mode.increment)]
    rows = staged_rows("api", points)
    text = zlib.decompress(rows.data).decode()
    # One line of six fields: the tab in a value is a JSON escape, each backslash of the key doubled for COPY.
    assert text.count("\t") == 5 and text.endswith("\n")
    assert copy_escaped(dims_key(dims)) in text and "\\\\" in text
    [(seq, metric, _, key, value, mode)] = list(iter_rows(rows.data))
    assert (seq, metric, json.loads(key), value, mode) == (0, "spend", dims, "1000", "increment")
