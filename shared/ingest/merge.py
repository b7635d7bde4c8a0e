# ruff: noqa: S608 - the SQL below interpolates module constants only; every value is a bound parameter.
"""The bulk merge of a batch's points into metric_points and the refresh of the touched daily roll-ups.

All in the caller's transaction, in a constant number of statements whatever the batch size (on Postgres, the
staging lookups once per month the batch spans: its metric tables are partitioned by month), with no Python object
per point:
1. take the organisation's merge lock (Postgres: a transaction-level advisory lock), so merges of one
   organisation's batches run one after another, whatever sources and key orders they carry: two cannot deadlock
   on each other's rows, collide on a roll-up key, or count the same key as new;
2. load the batch's stored rows (shared/ingest/rows.py) into a temporary table: on Postgres the stored COPY text
   is streamed into COPY as it is decompressed; on SQLite the lines are split into one executemany;
3. collapse them in SQL to one change per (metric, day, dimensions) key into the staging table, applying the
   batch in push order: from a key's last snapshot on (that snapshot plus the increments after it), or, with no
   snapshot, the sum of its increments (a batch whose keys do not repeat, as the API counted, skips the sort);
4. count which keys already exist (for the batch's inserted/replaced/incremented figures);
5. merge: one INSERT … SELECT … ON CONFLICT for snapshots (replace) and one for increments (add);
6. upsert metric_daily for exactly the staged keys, recomputed from metric_points (sum, count, min, max, last);
7. recompute the slices (metric_slices: each day's total and single-dimension sums, what reads use) of every
   (metric, day) the batch changed, from metric_daily, and note the latest day the source reported per metric.
Run twice in a rolled-back transaction, nothing changes; the job marks its batch done in the same
transaction, so a re-run after a crash starts from the same state. Batches of different organisations never
share a key, so they merge in parallel.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from shared.db.base import UTCDateTime
from shared.db.engine import driver_connection, is_postgres
from shared.ingest.rows import COLUMNS, copy_chunks, iter_rows
from shared.metrics.keys import CURRENCY_DIMENSION, DIMS_KEY_LENGTH, json_text
from shared.metrics.partitions import months_in, within_month

ROWS = "ingest_rows"
# The staged keys the batch changes: all but snapshots a later-accepted batch already wrote.
_POINT_KEY = (
    "p.org_id = :org AND p.metric_key = c.metric_key AND p.day = c.day AND p.dims_key = c.dims_key "
    "AND p.source = :source"
)
# One change per key, applying the batch in push order: from a key's last snapshot on (that snapshot plus the
# increments after it), or, with no snapshot, the sum of its increments. A batch whose keys do not repeat is its
# own changes (`_AS_SENT`: no sort).
_COLLAPSED = (
    "SELECT metric_key, day, dims_key, sum(value) AS value, "
    "CASE WHEN max(last_snapshot) IS NULL THEN 'increment' ELSE 'snapshot' END AS mode "
    "FROM (SELECT seq, metric_key, day, dims_key, value, max(CASE WHEN mode = 'snapshot' THEN seq END) "
    f"OVER (PARTITION BY metric_key, day, dims_key) AS last_snapshot FROM {ROWS} r WHERE {{rows_in}}) AS r "
    "WHERE last_snapshot IS NULL OR seq >= last_snapshot GROUP BY metric_key, day, dims_key"
)
_AS_SENT = f"SELECT metric_key, day, dims_key, value, mode FROM {ROWS} r WHERE {{rows_in}}"
_CHANGED = "NOT (mode = 'snapshot' AND newer = 1)"
STAGING = "ingest_staging"
# The first key of the two-key advisory lock: this lock's namespace (ASCII "KPIM"); the second is the organisation.
MERGE_LOCK_NAMESPACE = 0x4B50494D


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    replaced: int
    incremented: int
    superseded: int = 0  # snapshots left out: a batch accepted after this one had already written the key


async def _load_rows(
    session: AsyncSession,
    point_rows: bytes,
    *,
    org_id: uuid.UUID,
    source: str,
    batch_id: uuid.UUID,
    repeats: bool,
) -> None:
    """The batch's rows into the temporary ROWS table, then collapsed into STAGING: one row per key, with what the
    store holds for it."""
    if is_postgres(session):
        for table, columns in (
            (ROWS, "seq integer, metric_key varchar(64), day date, dims_key text, value numeric, mode varchar(16)"),
            (
                STAGING,
                f"metric_key varchar(64), day date, dims_key varchar({DIMS_KEY_LENGTH}), dimensions json, "
                "value numeric, mode varchar(16), old_value numeric, newer integer, solo integer, new_value numeric",
            ),
        ):
            await session.execute(text(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP"))
        # Sorting and hashing a large batch in memory is worth a bigger work_mem for this transaction only.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        await (await driver_connection(session)).copy_to_table(ROWS, source=copy_chunks(point_rows), columns=COLUMNS)
    else:
        for table in (ROWS, STAGING):
            await session.execute(text(f"DROP TABLE IF EXISTS temp.{table}"))
        await session.execute(
            text(
                f"CREATE TEMPORARY TABLE {ROWS} (seq INTEGER, metric_key TEXT, day DATE, dims_key TEXT, value NUMERIC, "
                "mode TEXT)"
            )
        )
        await session.execute(
            text(
                f"CREATE TEMPORARY TABLE {STAGING} (metric_key TEXT, day DATE, dims_key TEXT, dimensions TEXT, "
                "value NUMERIC, mode TEXT, old_value NUMERIC, newer INTEGER, solo INTEGER, new_value NUMERIC)"
            )
        )
        await session.execute(
            text(f"INSERT INTO {ROWS} VALUES (:seq, :metric_key, :day, :dims_key, :value, :mode)"),
            [dict(zip(COLUMNS, row, strict=True)) for row in iter_rows(point_rows)],
        )
    # Each key's change (collapsed in push order), beside what the store holds for it: this source's point (its
    # value, and whether a batch accepted after this one wrote it: batch ids are UUIDv7, they sort by acceptance)
    # and the key's roll-up (`solo`: it holds no other source's point, so the point's new value is the roll-up).
    dimensions = "CAST(dims_key AS json)" if is_postgres(session) else "dims_key"
    # On Postgres once per month the batch spans, each statement bounded by the month as literal dates, so that
    # each lookup is a plain primary-key search of one partition (shared/metrics/partitions.py `months_in`).
    months: list[date | None] = [*await months_in(session, ROWS)] if is_postgres(session) else [None]
    for month in months:
        r, d, p = (_within(alias, month) for alias in "rdp")
        await session.execute(
            _typed(
                # Each stored row is found by its primary key, one lookup per key (scalar subqueries: a plan that
                # does not depend on statistics, which a just-filled table lacks, nor on the organisation's history;
                # MATERIALIZED keeps them from being repeated in every expression that uses them). A key without a
                # roll-up has no point either (they are written together): its point is not looked up.
                f"WITH c AS ({(_COLLAPSED if repeats else _AS_SENT).format(rows_in=r)}), "
                "k AS MATERIALIZED (SELECT c.*, (SELECT d.value_count FROM metric_daily d WHERE d.org_id = :org "
                "AND d.metric_key = c.metric_key AND d.day = c.day AND d.dims_key = c.dims_key "
                f"AND {d}) AS rollup_count FROM c), "
                "x AS MATERIALIZED (SELECT c.*, CASE WHEN rollup_count IS NOT NULL THEN "
                f"(SELECT p.value FROM metric_points p WHERE {_POINT_KEY} AND {p}) END AS old_value, "
                "CASE WHEN rollup_count IS NOT NULL THEN "
                f"(SELECT p.batch_id FROM metric_points p WHERE {_POINT_KEY} AND {p}) END AS old_batch "
                f"FROM k AS c) INSERT INTO {STAGING} (metric_key, day, dims_key, dimensions, value, mode, old_value, "
                f"newer, solo, new_value) SELECT metric_key, day, dims_key, {dimensions}, value, mode, old_value, "
                "CASE WHEN old_batch > :batch THEN 1 ELSE 0 END, "
                "CASE WHEN rollup_count IS NULL OR (rollup_count = 1 AND old_value IS NOT NULL) THEN 1 ELSE 0 END, "
                "CASE WHEN mode = 'increment' THEN coalesce(old_value, 0) + value ELSE value END FROM x"
            ),
            {"org": org_id, "source": source, "batch": batch_id},
        )


def _within(alias: str, month: date | None) -> str:
    return "1 = 1" if month is None else within_month(alias, month)


async def metric_spans(session: AsyncSession) -> dict[str, tuple[date, date]]:
    """For each metric the staged batch carries, its first and last day (what evaluation must look at)."""
    rows = await session.execute(text(f"SELECT metric_key, min(day), max(day) FROM {STAGING} GROUP BY metric_key"))
    return {metric: (_day(first), _day(last)) for metric, first, last in rows}


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite returns the text


def _typed(sql: str) -> TextClause:
    """Bind our parameters with their column types (UUIDs and UTC times differ between backends)."""
    types: dict[str, TypeEngine[Any]] = {"org": Uuid(), "batch": Uuid(), "now": UTCDateTime()}
    return text(sql).bindparams(*(bindparam(name, type_=t) for name, t in types.items() if f":{name}" in sql))


async def merge_rows(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    source: str,
    batch_id: uuid.UUID,
    point_rows: bytes,
    repeats: bool = True,
) -> tuple[MergeCounts, dict[str, tuple[date, date]]]:
    """Upsert the batch's stored rows and refresh the touched roll-ups; returns what happened to the keys, and each
    metric's first and last day in the batch."""
    postgres = is_postgres(session)
    now = datetime.now(UTC)
    params = {"org": org_id, "source": source, "batch": batch_id, "now": now}
    await lock_org_merges(session, org_id)
    await _load_rows(session, point_rows, org_id=org_id, source=source, batch_id=batch_id, repeats=repeats)
    counts = await session.execute(
        text(f"SELECT mode, newer, old_value IS NULL, solo, count(*) FROM {STAGING} GROUP BY 1, 2, 3, 4")
    )
    found: dict[tuple[str, bool, bool], int] = {}
    shared_keys = False  # changed keys whose roll-ups other sources' points are part of
    for mode, newer, new, solo, n in counts.all():
        found[mode, bool(newer), bool(new)] = found.get((mode, bool(newer), bool(new)), 0) + n
        shared_keys = shared_keys or (not solo and not (mode == "snapshot" and newer))
    # A snapshot is the source's value for the key as of when it was accepted: when batches merge out of order (a
    # backlog after an outage, two workers), a later-accepted snapshot is never overwritten by an earlier one (it is
    # `superseded`, and left out). Increments commute, so they always add. The new values were computed against
    # the stored ones under the organisation's merge lock, and only merges write points: one upsert writes both.
    # (The WHERE before ON CONFLICT also keeps SQLite from reading ON CONFLICT as a join constraint.)
    await session.execute(
        _typed(
            "INSERT INTO metric_points (org_id, metric_key, day, dims_key, source, dimensions, value, updated_at, "
            f"batch_id) SELECT :org, metric_key, day, dims_key, :source, dimensions, new_value, :now, :batch "
            f"FROM {STAGING} WHERE {_CHANGED} ON CONFLICT (org_id, metric_key, day, dims_key, source) DO UPDATE SET "
            "value = excluded.value, updated_at = excluded.updated_at, batch_id = excluded.batch_id"
        ),
        params,
    )
    await update_rollups(session, org_id=org_id, now=now, postgres=postgres, shared_keys=shared_keys)
    await refresh_slices(session, org_id=org_id, postgres=postgres)
    await _note_sources(session, org_id=org_id, source=source, postgres=postgres, now=now)
    spans = await metric_spans(session)
    if not postgres:  # Postgres drops them at commit
        for table in (ROWS, STAGING):
            await session.execute(text(f"DROP TABLE temp.{table}"))
    inserted = sum(n for (_, _, new), n in found.items() if new)
    replaced = found.get(("snapshot", False, False), 0)
    superseded = found.get(("snapshot", True, False), 0)
    incremented = sum(n for (mode, _, new), n in found.items() if mode == "increment" and not new)
    return MergeCounts(inserted, replaced, incremented, superseded), spans


def staged_points(postgres: bool) -> str:
    """The join of the staged keys with their stored points (`s`, `p`), its ON clause to follow.

    SQLite plans `metric_points JOIN staging` with every point of the organisation outside and a full scan of the
    unindexed staging table inside: points × batch, quadratic in the batch and growing with the organisation's
    history (16,000 points: 10 s in the roll-up alone). CROSS JOIN is SQLite's way to fix the join order: each
    staged key outside, a primary-key search for its points inside, so the cost is the batch's. Postgres plans
    either order well (a hash join)."""
    return f"metric_points p JOIN {STAGING} s" if postgres else f"{STAGING} s CROSS JOIN metric_points p"


async def _org_advisory_lock(session: AsyncSession, org_id: uuid.UUID, *, wait: bool) -> bool:
    """Take the organisation's merge lock until this transaction ends (Postgres): waiting for it, or only if it is
    free right now. Whether this transaction holds it."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    taken = await session.scalar(
        _typed(f"SELECT {function}(:namespace, hashtext(CAST(:org AS text)))"),
        {"namespace": MERGE_LOCK_NAMESPACE, "org": org_id},
    )
    return wait or bool(taken)


async def org_merge_busy(session: AsyncSession, org_id: uuid.UUID) -> bool:
    """True when another transaction holds the organisation's merge lock right now (Postgres; never on SQLite, whose
    single writer serialises everything anyway). A probe: if free, the lock is taken until this transaction ends."""
    if not is_postgres(session):
        return False
    return not await _org_advisory_lock(session, org_id, wait=False)


async def lock_org_merges(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Wait for (then hold until commit) the organisation's merge lock. On SQLite the database's single writer lock
    serialises every merge: it is taken here, before anything is read (BEGIN IMMEDIATE, waiting up to busy_timeout)."""
    if is_postgres(session):
        await _org_advisory_lock(session, org_id, wait=True)
        return
    await write_transaction(session)


async def write_transaction(session: AsyncSession) -> None:
    """On SQLite, take the database's writer lock now, before anything is read (BEGIN IMMEDIATE, waiting up to
    busy_timeout); nothing on Postgres, whose row locks (`FOR UPDATE`) serialise what must be.

    pysqlite opens a transaction (a deferred BEGIN) just before the first INSERT/UPDATE/DELETE, so a read-then-write
    transaction reads before it holds anything: SQLite has no row locks, so a job reading a batch's status could
    write it back over what another connection committed meanwhile (a drain marking the batch done). And in the
    merge, the first write goes to the temporary staging table, and the existing-keys count then starts a read of
    the main database: the first write to metric_points would have to upgrade that read, which fails at once
    ("database is locked", no waiting) if another connection wrote in between."""
    if is_postgres(session):
        return
    if not (await driver_connection(session)).in_transaction:
        await session.execute(text("BEGIN IMMEDIATE"))


async def update_rollups(
    session: AsyncSession, *, org_id: uuid.UUID, now: datetime, postgres: bool, shared_keys: bool
) -> None:
    """Bring metric_daily up to date for the keys the batch changed, from the staged delta: a key whose roll-up
    holds only this source's point (most keys: one source reports a metric) takes the point's new value as its
    sum, min, max and last; a key other sources also report is recomputed from all its points (`refresh_rollups`)."""
    await session.execute(
        _typed(
            "INSERT INTO metric_daily (org_id, metric_key, day, dims_key, dimensions, value_sum, value_count, "
            "value_min, value_max, value_last, last_at) SELECT :org, metric_key, day, dims_key, dimensions, new_value, "
            f"1, new_value, new_value, new_value, :now FROM {STAGING} WHERE solo = 1 AND {_CHANGED} "
            "ON CONFLICT (org_id, metric_key, day, dims_key) DO UPDATE SET dimensions = excluded.dimensions, "
            "value_sum = excluded.value_sum, value_count = excluded.value_count, value_min = excluded.value_min, "
            "value_max = excluded.value_max, value_last = excluded.value_last, last_at = excluded.last_at"
        ),
        {"org": org_id, "now": now},
    )
    if not shared_keys:
        return
    if postgres:
        # Autovacuum never sees a temporary table: without statistics the planner guesses one row and sorts the
        # join on disk.
        await session.execute(text(f"ANALYZE {STAGING}"))
    await refresh_rollups(
        session, org_id=org_id, postgres=postgres, where="s.solo = 0 AND NOT (s.mode = 'snapshot' AND s.newer = 1)"
    )


async def refresh_rollups(session: AsyncSession, *, org_id: uuid.UUID, postgres: bool, where: str = "1 = 1") -> None:
    """Recompute metric_daily for the staged keys (those matching `where`, on the staging table `s`) from all
    sources' points (one upsert: a key's roll-up row is replaced in place, never deleted and re-inserted)."""
    last_value = (
        "(array_agg(p.value ORDER BY p.updated_at DESC, p.source))[1]"
        if postgres
        else "(SELECT p2.value FROM metric_points p2 WHERE p2.org_id = p.org_id AND p2.metric_key = p.metric_key "
        "AND p2.day = p.day AND p2.dims_key = p.dims_key ORDER BY p2.updated_at DESC, p2.source LIMIT 1)"
    )
    # The staging table holds one row per key (collapse), so it joins directly and carries the dimensions.
    dimensions = "s.dimensions::text" if postgres else "s.dimensions"
    dimensions_out = "(s.dimensions::text)::json" if postgres else "s.dimensions"
    await session.execute(
        _typed(
            "INSERT INTO metric_daily (org_id, metric_key, day, dims_key, dimensions, value_sum, value_count, "
            "value_min, value_max, value_last, last_at) "
            f"SELECT p.org_id, p.metric_key, p.day, p.dims_key, {dimensions_out}, sum(p.value), count(*), "
            f"min(p.value), max(p.value), {last_value}, max(p.updated_at) "
            f"FROM {staged_points(postgres)} ON s.metric_key = p.metric_key AND s.day = p.day "
            f"AND s.dims_key = p.dims_key WHERE p.org_id = :org AND {where} "
            f"GROUP BY p.org_id, p.metric_key, p.day, p.dims_key, {dimensions} "
            "ON CONFLICT (org_id, metric_key, day, dims_key) DO UPDATE SET dimensions = excluded.dimensions, "
            "value_sum = excluded.value_sum, value_count = excluded.value_count, value_min = excluded.value_min, "
            "value_max = excluded.value_max, value_last = excluded.value_last, last_at = excluded.last_at"
        ),
        {"org": org_id},
    )


_SLICE_AGGREGATES = "sum(d.value_sum), sum(d.value_count), min(d.value_min), max(d.value_max), sum(d.value_last)"


async def rebuild_slices(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Recompute every slice of the organisation from metric_daily (for roll-ups written other than by a merge:
    operator repairs, tests that seed roll-ups directly)."""
    await refresh_slices(
        session,
        org_id=org_id,
        postgres=is_postgres(session),
        touched="SELECT DISTINCT metric_key, day FROM metric_daily WHERE org_id = :org",
    )


async def refresh_slices(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    postgres: bool,
    touched: str = f"SELECT DISTINCT metric_key, day FROM {STAGING} WHERE {_CHANGED}",
) -> None:
    """Recompute metric_slices for every (metric, day) the staged batch changed, from that day's roll-ups: its total
    and each single dimension value's sum (the day's rows are read once per statement, by their primary key prefix).

    Recomputed rather than adjusted by the batch's delta: min and max cannot be taken back, and the sums stay exact
    on SQLite, whose numbers are floating point. It costs the changed days' roll-ups, which for the usual batch (a
    report of every campaign over some days) is the batch itself. Dimension sets are never removed, so an upsert
    leaves no slice behind."""
    # Each touched (metric, day) outside, its roll-ups found by primary-key prefix inside: on Postgres a LATERAL
    # subquery fixes that plan whatever the statistics (the staging table has none unless analysed, which costs a
    # tenth of a second on a large batch); SQLite takes CROSS JOIN as the join order. A table function in FROM reads
    # the row before it (json_each*: the roll-up's dimensions).
    rollups = (
        f"({touched}) t CROSS JOIN LATERAL (SELECT * FROM metric_daily x WHERE x.org_id = :org "
        "AND x.metric_key = t.metric_key AND x.day = t.day) d"
        if postgres
        else f"({touched}) t CROSS JOIN metric_daily d"
    )
    on = "WHERE d.org_id = :org AND d.metric_key = t.metric_key AND d.day = t.day"
    each = "json_each_text(d.dimensions)" if postgres else "json_each(d.dimensions)"
    # A money point carries its currency as the reserved dimension `currency` (shared.money.CURRENCY_DIMENSION):
    # each slice sums one currency's amounts, and `currency` itself is not a dimension slices are cut by.
    currency = f"coalesce({json_text('d.dimensions', CURRENCY_DIMENSION, postgres)}, '')"
    insert = (
        "INSERT INTO metric_slices (org_id, metric_key, dimension, dim_value, day, currency, value_sum, value_count, "
        "value_min, value_max, value_last)"
    )
    upsert = (
        "ON CONFLICT (org_id, metric_key, dimension, dim_value, day, currency) DO UPDATE SET "
        "value_sum = excluded.value_sum, value_count = excluded.value_count, value_min = excluded.value_min, "
        "value_max = excluded.value_max, value_last = excluded.value_last"
    )
    for sql in (
        f"{insert} SELECT :org, d.metric_key, '', '', d.day, {currency}, {_SLICE_AGGREGATES} FROM {rollups} {on} "
        f"GROUP BY d.metric_key, d.day, {currency} {upsert}",
        f"{insert} SELECT :org, d.metric_key, e.key, e.value, d.day, {currency}, {_SLICE_AGGREGATES} "
        f"FROM {rollups} CROSS JOIN {each} e {on} AND e.key <> '{CURRENCY_DIMENSION}' "
        f"GROUP BY d.metric_key, e.key, e.value, d.day, {currency} {upsert}",
    ):
        await session.execute(_typed(sql), {"org": org_id})


async def _note_sources(
    session: AsyncSession, *, org_id: uuid.UUID, source: str, postgres: bool, now: datetime
) -> None:
    """The latest day the batch's source reported for each of its metrics (never moved back by a backfill), and
    that the metric's data changed now (the scheduled evaluation re-judges the KPIs that read it)."""
    later = "greatest" if postgres else "max"
    await session.execute(
        _typed(
            "INSERT INTO metric_sources (org_id, metric_key, source, last_day, updated_at) SELECT :org, metric_key, "
            f":source, max(day), :now FROM {STAGING} WHERE 1 = 1 GROUP BY metric_key ON CONFLICT (org_id, metric_key, "
            f"source) DO UPDATE SET last_day = {later}(metric_sources.last_day, excluded.last_day), "
            "updated_at = excluded.updated_at"
        ),
        {"org": org_id, "source": source, "now": now},
    )
