"""Base classes for request and response bodies, and the list envelope every list endpoint uses."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from types import NoneType
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from services.api.text import guard_schema
from shared.money.currencies import is_currency
from shared.numbers import money_text, plain_number
from shared.orgs.clock import is_zone

T = TypeVar("T")


class Input(BaseModel):
    """A request body: unknown fields are an error, so a typo never passes silently, and no text may carry what
    the store cannot hold (a NUL, a lone surrogate: `services.api.text`), wherever it sits in the body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> CoreSchema:
        return guard_schema(handler(source))


NULL_REFUSED = "null_refused"


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(NULL_REFUSED, "cannot be null; leave it out to keep the current value")
    return value


def _allows_none(annotation: Any) -> bool:
    return annotation in (None, NoneType, Any) or NoneType in get_args(annotation)


def _fields_of(schema: Any) -> dict[str, Any]:
    """The `model-fields` of a model's core schema, under any model validators wrapping it."""
    while schema["type"] != "model-fields":
        schema = schema["schema"]
    return schema["fields"]


# The default of a PATCH field whose type refuses null: left out, the value stays. It is None, typed Any so that
# `name: Name = OMITTED` type-checks (UpdateInput refuses an explicit null for such a field).
OMITTED: Any = None


class UpdateInput(Input):
    """A PATCH body: every field defaults to None, and only the fields sent change (`changes()`).

    An explicit `null` clears a field whose type allows None and is refused for any other (422 naming the field,
    `null_refused`), before the service runs: `name: Name = OMITTED` may be left out but not nulled. `not_null` names
    the fields refused alike although typed `X | None`, because the published document already shows them
    nullable; a new field says it with its type instead.
    """

    not_null: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = super().__get_pydantic_core_schema__(source, handler)
        fields = _fields_of(schema)
        if unknown := cls.not_null - fields.keys():
            raise TypeError(f"{cls.__name__}.not_null names no field: {sorted(unknown)}")
        for name, info in cls.model_fields.items():
            default = fields[name]["schema"]  # {"type": "default", "schema": <the value's schema>}
            if default["type"] != "default":
                raise TypeError(f"{cls.__name__}.{name}: a PATCH field needs a default (None: left out)")
            refused = default["schema"].get("function", {}).get("function") is _refuse_null  # reached again
            if not refused and (name in cls.not_null or not _allows_none(info.annotation)):
                default["schema"] = core_schema.no_info_before_validator_function(_refuse_null, default["schema"])
        return schema

    def changes(self) -> dict[str, Any]:
        """The fields the body carried, each whole: a nested object sent without its defaulted fields gets
        them (`model_dump(exclude_unset=True)` would leave them out, and the service would miss them)."""
        return self.model_dump(include=self.model_fields_set)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# Output field types with the examples the OpenAPI document shows integrators.
Id = Annotated[uuid.UUID, Field(examples=["01a22057-e538-71c3-bf3b-0dc78b9d9dea"])]
Timestamp = Annotated[datetime, Field(examples=["2026-11-28T09:30:00.123Z"])]


# A measured or target value (not money): returned as a plain decimal string, "1250.5".
Number = Annotated[
    Decimal, PlainSerializer(plain_number, return_type=str, when_used="json"), Field(examples=["1250.5"])
]

# Money out: always two places ("1250.00"), whether the value was just sent ("1250") or read back.
Amount = Annotated[
    Decimal,
    PlainSerializer(money_text, return_type=str, when_used="json"),
    Field(
        examples=["1250.00"],
        description="Decimal amount as a string: two places, three for a currency whose minor unit has three (KWD)",
    ),
]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Money = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=18,
        decimal_places=3,
        description="Decimal amount, sent and returned as a string, in whole minor units of its currency (VND and "
        "JPY whole, USD 2 places, KWD 3)",
    ),
]
ChannelKey = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$"),
    Field(description="Channel key as metrics carry it, e.g. `meta`, `google_ads`, `email`", examples=["meta"]),
]


def _iso_4217(code: str) -> str:
    code = code.strip().upper()
    if not is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency in use (CLDR, via Babel)")
    return code


Currency = Annotated[
    str, AfterValidator(_iso_4217), Field(examples=["EUR"], description="ISO 4217 code of a currency in use")
]


def _iana_zone(name: str) -> str:
    name = name.strip()
    if not is_zone(name):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Asia/Ho_Chi_Minh, America/New_York, UTC)")
    return name


TimeZone = Annotated[
    str,
    AfterValidator(_iana_zone),
    Field(max_length=64, examples=["Asia/Ho_Chi_Minh"], description="IANA time zone name"),
]


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def _sane_day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"{value} is outside the dates this service plans and reports on ({FIRST_DAY} to {LAST_DAY})")
    return value


# A calendar date a user gives (bodies and query parameters): years 1900 to 2199, so period arithmetic
# (the previous period, a week's Monday, the next month) can never leave the calendar.
Day = Annotated[date, AfterValidator(_sane_day)]


def check_date_order(start: date | None, end: date | None, *, start_name: str, end_name: str) -> None:
    """Raise a `date_order` error (a 422 inside a pydantic validator, located at the later field by the problem
    handler: `body.end_date`) when end is before start."""
    if start is not None and end is not None and end < start:
        raise PydanticCustomError(
            "date_order",
            "{end_name} ({end}) is before {start_name} ({start})",
            {"end_name": end_name, "end": str(end), "start_name": start_name, "start": str(start)},
        )
