"""Request and response bodies of each organisation's settings per source (its adapter's, and the default currency
of its money points), and of its signing secret."""

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from services.api.schemas import Currency, Input, Output, Timestamp

MAX_ACTION_TYPES = 20
ActionType = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:-]{1,100}$"),
    Field(examples=["offsite_conversion.fb_pixel_purchase"]),
]
ActionTypes = Annotated[
    list[ActionType] | None,
    Field(
        max_length=MAX_ACTION_TYPES,
        description="A priority order: the first of these types a row lists gives the value, so one purchase Meta "
        "reports under several aliases counts once; `[]` turns the metric off; left out or null: the default",
    ),
]


def _distinct(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("each action type at most once")
    return values


DefaultCurrency = Annotated[
    Currency | None,
    Field(
        description="ISO 4217 currency of this source's money points (spend, revenue…) that state none: neither "
        "the point, its batch nor the platform's row. Null or left out: none, and such a point is refused (422)",
        examples=["EUR"],
    ),
]


class SourceConfigIn(Input):
    """What every source takes, an ad platform or a generic source pushing to /v1/ingest/metrics: the default
    currency of its money points."""

    default_currency: DefaultCurrency = None


class MetaSettingsIn(SourceConfigIn):
    """Which Meta action types count as conversions and leads (from `actions`) and revenue (from
    `action_values`), and the default currency."""

    conversions: ActionTypes = Field(default=None, examples=[["purchase", "complete_registration"]])
    leads: ActionTypes = Field(default=None, examples=[["lead", "onsite_conversion.lead_grouped"]])
    revenue: ActionTypes = Field(default=None, examples=[["purchase"]])

    _check_distinct = field_validator("conversions", "leads", "revenue")(lambda v: _distinct(v))


class NoSettingsIn(SourceConfigIn):
    """A source whose adapter reads fixed fields, or a generic source: only the default currency to set."""


# The body PUT /v1/ingest/sources/{source}/config takes, by source (keys: shared.ingest.adapters.SOURCE_SETTINGS);
# any other source takes NoSettingsIn.
SOURCE_SETTINGS_IN: dict[str, type[SourceConfigIn]] = {"meta": MetaSettingsIn}


class SourceConfigOut(Output):
    source: str = Field(examples=["meta"])
    settings: dict[str, list[str]] = Field(
        description="The settings in force: the organisation's own, and the default for each it did not set",
        examples=[
            {
                "conversions": ["complete_registration"],
                "leads": ["lead", "onsite_conversion.lead_grouped", "offsite_conversion.fb_pixel_lead"],
                "revenue": ["purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase"],
            }
        ],
    )
    customised: list[str] = Field(
        description="The settings the organisation set; the others follow the defaults", examples=[["conversions"]]
    )
    default_currency: str | None = Field(
        default=None,
        description="ISO 4217 currency of this source's money points that state none; null: none set, such points "
        "are refused",
        examples=["EUR"],
    )
    signature_required: bool = Field(
        default=False,
        description="Pushes of this source must carry X-Hub-Signature-256 (see PUT …/signing-secret)",
        examples=[False],
    )
    updated_at: Timestamp | None = Field(description="When the organisation last changed them; null: never")


class SigningSecretIn(Input):
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=100,
        description="Your own secret (e.g. the Meta app secret your relay signs with); leave out to get a "
        "generated one",
        examples=[None],
    )


class SigningSecretOut(Output):
    source: str = Field(examples=["meta"])
    secret: str = Field(
        description="Shown once: sign each push's raw body with HMAC-SHA256 under it",
        examples=["pV3a9q0l2Yk7cXv1nT8s4Rw6eJ5uHb0mZf2gKd9iLqA"],
    )
    header: str = Field(examples=["X-Hub-Signature-256"])
    format: str = Field(examples=["sha256=<hex HMAC-SHA256 of the raw request body>"])
