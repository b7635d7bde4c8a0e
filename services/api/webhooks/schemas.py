"""Request and response bodies of webhook endpoints and their deliveries."""

import uuid
from typing import Literal, get_args

from pydantic import Field, field_validator

from services.api.schemas import Id, Input, Output, Text, Timestamp, UpdateInput
from shared.kpis.models import KpiCategory
from shared.webhooks.models import WEBHOOK_EVENT_TYPES, DeliveryStatus
from shared.webhooks.ssrf import UnsafeUrl, check_url_syntax

# What an endpoint may subscribe to: not the notification channels' own `notification.*` events.
WebhookEventType = Literal[
    "kpi.at_risk",
    "kpi.off_track",
    "kpi.recovered",
    "kpi.no_data",
    "budget.overspend",
    "ingest.batch_failed",
    "webhook.test",
]
assert set(get_args(WebhookEventType)) == {t.value for t in WEBHOOK_EVENT_TYPES}


def _url(url: str) -> str:
    try:
        check_url_syntax(url)
    except UnsafeUrl as exc:
        raise ValueError(str(exc)) from exc
    return url


class EndpointCreate(Input):
    """Where to send which events. Leave a filter empty to receive everything it filters."""

    url: str = Field(max_length=2000, examples=["https://hooks.example.com/kpi"])
    description: Text | None = None
    event_types: list[WebhookEventType] = Field(default_factory=list, examples=[["kpi.off_track", "kpi.recovered"]])
    kpi_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    categories: list[KpiCategory] = Field(default_factory=list, examples=[["impact"]])
    enabled: bool = True

    _check_url = field_validator("url")(_url)


class EndpointUpdate(UpdateInput):
    not_null = frozenset({"url", "enabled", "event_types", "kpi_ids", "categories"})

    url: str | None = Field(default=None, max_length=2000, examples=["https://hooks.example.com/kpi-v2"])
    description: Text | None = None
    event_types: list[WebhookEventType] | None = None
    kpi_ids: list[uuid.UUID] | None = None
    categories: list[KpiCategory] | None = None
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        return None if url is None else _url(url)


class EndpointOut(Output):
    id: Id
    url: str = Field(examples=["https://hooks.example.com/kpi"])
    description: str | None
    event_types: list[str] = Field(examples=[["kpi.off_track", "kpi.recovered"]])
    kpi_ids: list[str]
    categories: list[str]
    enabled: bool
    disabled_reason: str | None = Field(examples=[None])
    disabled_at: Timestamp | None
    failing_since: Timestamp | None
    secret_rotating_until: Timestamp | None = Field(description="While set, the previous secret also signs")
    created_at: Timestamp
    updated_at: Timestamp


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        description="Shown this once. Verify signatures with it (Standard Webhooks).",
    )


class AttemptOut(Output):
    id: Id
    delivery_id: Id
    event_id: str = Field(examples=["msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"], description="The webhook-id")
    event_type: str = Field(examples=["kpi.off_track"])
    number: int = Field(examples=[1], description="Attempt number within its delivery")
    trigger: str = Field(examples=["scheduled"], description="scheduled | manual")
    attempted_at: Timestamp
    status_code: int | None = Field(examples=[200])
    duration_ms: int = Field(examples=[84])
    outcome: str = Field(
        examples=["delivered"],
        description="delivered | retry (another attempt follows) | failed (the last attempt: the schedule is used up "
        "or the endpoint was disabled) | gone | refused",
    )
    error: str | None
    response_excerpt: str | None = Field(description="The start of the receiver's answer (1,000 characters)")
    delivery_status: DeliveryStatus


class ReplayAccepted(Output):
    delivery_id: Id
    status: DeliveryStatus = Field(examples=["pending"])


class OperatorEventOut(Output):
    """Something an operator should know about, e.g. an endpoint that delivery disabled."""

    id: Id
    kind: str = Field(examples=["webhook_endpoint_disabled"])
    endpoint_id: Id | None = Field(description="The webhook endpoint concerned, if any (null once it is deleted)")
    channel_id: Id | None = Field(
        default=None, description="The notification channel concerned, if any (null once it is deleted)"
    )
    detail: dict = Field(
        examples=[
            {
                "endpoint_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea",
                "url": "https://hooks.example.com/kpi",
                "reason": "the receiver answered 410 Gone",
                "cause": "gone",
            }
        ]
    )
    created_at: Timestamp


class TestEventSent(Output):
    event_id: str = Field(examples=["msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"], description="The webhook-id it is sent with")
    event_type: str = Field(examples=["webhook.test"])
    endpoint_id: Id
    deliveries_url: str = Field(
        examples=["/v1/webhook-endpoints/01a2…/deliveries?event_type=webhook.test"],
        description="Its attempts, with the receiver's status code and answer, appear in the endpoint's log",
    )
