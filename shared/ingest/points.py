"""The normalised metric point every source is turned into before it is stored."""

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class Mode(enum.StrEnum):
    snapshot = "snapshot"  # the value for that metric/day/dimensions from this source; a later push replaces it
    increment = "increment"  # adds to what is there


@dataclass(frozen=True)
class Point:
    metric: str
    value: Decimal
    day: date
    dimensions: dict[str, str] = field(default_factory=dict)
    mode: Mode = Mode.snapshot


class AdapterError(ValueError):
    """A platform payload that cannot be read; `location` says where (e.g. `data[3].spend`)."""

    def __init__(self, message: str, location: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message
