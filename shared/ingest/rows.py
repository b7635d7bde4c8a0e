"""A batch's points as stored between the 202 and the merge: the rows the worker COPYs into its staging table.

The API normalises a batch once (metric, day, canonical dimension key, value, mode, in push order) and stores it
as Postgres COPY text, one line per point, compressed (zlib, level 1: about a tenth of the text, in about a
millisecond per 10,000 points):

    seq <TAB> metric <TAB> day <TAB> dims_key <TAB> value <TAB> mode <NEWLINE>

`seq` is the point's place in the batch (the merge applies a batch in push order: a snapshot resets a key, later
increments add to it). In COPY text a backslash is an escape, so the one field that may hold one, the dimension
key (JSON), has each doubled; no field can hold a tab or a newline (the JSON key escapes them, the others are
validated: metric keys are `[a-z0-9_]`, values plain decimals, days ISO dates, modes one of two words).

The worker never builds a Python object per point: on Postgres it streams the decompressed text straight into
COPY; on SQLite it splits the lines into rows for one executemany. Writers also keep what validation needs, set
by set (`Summary`), so a batch is checked by its distinct metrics, days and dimension sets, not point by point.
"""

import hashlib
import json
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shared.ingest.points import Mode, Point
from shared.metrics.keys import dims_key

COLUMNS = ("seq", "metric_key", "day", "dims_key", "value", "mode")
_LEVEL = 1  # zlib's fastest: the text is repetitive, level 1 already keeps about a tenth of it
_READ_CHUNK = 1 << 18


def copy_escaped(text: str) -> str:
    """A field as COPY text reads it back (only backslashes can occur in ours: see the module docstring)."""
    return text.replace("\\", "\\\\")


@dataclass
class Summary:
    """What validation needs of a batch, set by set: distinct metrics, days, (metric, dimension key) pairs, and
    the metrics sent as increments."""

    metrics: set[str] = field(default_factory=set)
    days: set[str] = field(default_factory=set)  # ISO dates
    pairs: set[tuple[str, str]] = field(default_factory=set)  # (metric, canonical dimension key)
    increments: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class StagedRows:
    """A normalised batch: the compressed COPY text, its point count, the SHA-256 of the uncompressed text (the
    batch's fingerprint for idempotency, with its source) and its summary."""

    data: bytes
    count: int
    digest: str
    summary: Summary
    # Distinct (metric, day, dimensions) keys: when it equals `count`, nothing in the batch needs collapsing.
    keys: int


class RowsWriter:
    """Builds `StagedRows` from columns, a chunk at a time (a large batch never exists as one big text)."""

    def __init__(self, source: str) -> None:
        self._compressor = zlib.compressobj(_LEVEL)
        self._parts: list[bytes] = []
        self._count = 0
        self._keys: set[tuple[str, str, str]] = set()
        self._hash = hashlib.sha256(source.encode() + b"\n")
        self._escaped: dict[str, str] = {}
        self.summary = Summary()

    def add(
        self, metrics: list[str], days: list[str], dims_keys: list[str], values: list[str], modes: list[str]
    ) -> None:
        """Append points given column by column (canonical dimension keys, plain decimal values, ISO days)."""
        summary = self.summary
        summary.metrics.update(metrics)
        summary.days.update(days)
        summary.pairs.update(zip(metrics, dims_keys, strict=True))
        self._keys.update(zip(metrics, days, dims_keys, strict=True))
        if Mode.increment.value in modes:
            summary.increments.update(m for m, mode in zip(metrics, modes, strict=True) if mode == Mode.increment)
        escaped = self._escaped
        for key in set(dims_keys).difference(escaped):
            escaped[key] = copy_escaped(key)
        start = self._count
        lines = "\n".join(
            map(
                "\t".join,
                zip(
                    map(str, range(start, start + len(metrics))),
                    metrics,
                    days,
                    map(escaped.__getitem__, dims_keys),
                    values,
                    modes,
                    strict=True,
                ),
            )
        )
        if not lines:
            return
        text = lines.encode() + b"\n"
        self._hash.update(text)
        self._parts.append(self._compressor.compress(text))
        self._count += len(metrics)

    def add_points(self, points: Iterable[Point]) -> None:
        """Append normalised points (the ad-platform adapters' output, or a batch read the slow way)."""
        keys: dict[tuple, str] = {}  # a batch has few distinct dimension sets: serialise each once
        metrics, days, dims, values, modes = [], [], [], [], []
        for p in points:
            items = tuple(p.dimensions.items())
            key = keys.get(items)
            if key is None:
                key = keys[items] = dims_key(p.dimensions)
            metrics.append(p.metric)
            days.append(p.day.isoformat())
            dims.append(key)
            values.append(plain_decimal(p.value))
            modes.append(p.mode.value)
        self.add(metrics, days, dims, values, modes)

    def finish(self) -> StagedRows:
        self._parts.append(self._compressor.flush())
        return StagedRows(b"".join(self._parts), self._count, self._hash.hexdigest(), self.summary, len(self._keys))


def plain_decimal(value) -> str:
    """A Decimal as COPY and SQLite read it: `1E+3` is written `1000` (both read exponents, but a plain text is
    what every reader agrees on)."""
    text = str(value)
    return text if "E" not in text else format(value, "f")


def staged_rows(source: str, points: Iterable[Point]) -> StagedRows:
    writer = RowsWriter(source)
    writer.add_points(points)
    return writer.finish()


async def copy_chunks(data: bytes) -> AsyncIterator[bytes]:
    """The COPY text of stored rows, decompressed a piece at a time (asyncpg's `copy_to_table(source=...)`)."""
    decompressor = zlib.decompressobj()
    for start in range(0, len(data), _READ_CHUNK):
        chunk = decompressor.decompress(data[start : start + _READ_CHUNK])
        if chunk:
            yield chunk
    rest = decompressor.flush()
    if rest:
        yield rest


def iter_rows(data: bytes) -> Iterator[tuple[int, str, date, str, str, str]]:
    """The stored rows as tuples (SQLite's executemany): seq, metric, day, dimension key (unescaped), value, mode.
    A value that is not a decimal raises, as COPY into a numeric column does on Postgres (SQLite would keep it)."""
    days: dict[str, date] = {}
    text = zlib.decompress(data).decode()
    for line in text.split("\n")[:-1]:  # every line ends with a newline
        seq, metric, day, key, value, mode = line.split("\t")
        parsed = days.get(day)
        if parsed is None:
            parsed = days[day] = date.fromisoformat(day)
        Decimal(value)  # raises InvalidOperation for anything but a number
        yield int(seq), metric, parsed, key.replace("\\\\", "\\"), value, mode


def day_span(data: bytes) -> tuple[date, date] | None:
    """The first and last day among stored rows (None for none): for batches stored before their span was kept."""
    first = last = None
    for line in zlib.decompress(data).decode().split("\n")[:-1]:
        day = line.split("\t", 3)[2]  # ISO dates sort as text
        if first is None or day < first:
            first = day
        if last is None or day > last:
            last = day
    if first is None or last is None:
        return None
    return date.fromisoformat(first), date.fromisoformat(last)


def dimension_names(key: str) -> frozenset[str]:
    """The dimension names of a canonical dimension key."""
    return frozenset(json.loads(key))
