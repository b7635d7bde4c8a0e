"""The normalised metric point every source is turned into before it is stored."""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class Mode(enum.StrEnum):
    snapshot = "snapshot"  # the value for that metric/day/dimensions from this source; a later push replaces it
    increment = "increment"  # adds to what is there


@dataclass(frozen=True, slots=True)
class Origin:
    """Where in the pushed body a point came from, so a refusal after parsing names what the caller sent.

    `row` is the source row (`points.3`, `data[1]`). A part of the point (`metric`, `value`, `timestamp`, `mode`,
    `dimensions`, `dimensions.<name>`) was read from `<row>.<part>` unless `fields` names another place, as an
    adapter does (a Meta point's `timestamp` is `data[1].date_start`, its channel the row itself); `value` is the
    field this point's value, and so its metric, came from (`data[1].spend`), when it is not `<row>.value`.
    """

    row: str
    fields: Mapping[str, str] | None = None  # shared by the points of one row
    value: str | None = None

    def of(self, part: str) -> str:
        """The location of one part of the point: `of("timestamp")` → `data[1].date_start`."""
        if self.value is not None and part in ("value", "metric"):
            return self.value
        if self.fields is not None and part in self.fields:
            return self.fields[part]
        return f"{self.row}.{part}"


@dataclass(frozen=True)
class Point:
    metric: str
    value: Decimal
    day: date
    dimensions: dict[str, str] = field(default_factory=dict)
    mode: Mode = Mode.snapshot
    # Where the point was read from (not stored, not compared): validation errors name it.
    origin: Origin | None = field(default=None, compare=False, repr=False)
    # ISO 4217 currency of a money amount as the report states it (an adapter reads it from the platform's row); the
    # API checks it, falls back to the batch's or the source's default currency, and stores it as the reserved
    # dimension `currency` (shared.metrics.keys.CURRENCY_DIMENSION).
    currency: str | None = None


class AdapterError(ValueError):
    """A platform payload that cannot be read; `location` says where (e.g. `data[3].spend`)."""

    def __init__(self, message: str, location: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message
