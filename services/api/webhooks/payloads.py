"""The JSON each webhook event is delivered with, as documented in the OpenAPI document's `webhooks` section (one
operation per event type) and checked against what is really sent (tests/test_webhook_payloads.py).

Every payload is `{type, version, timestamp, data}`; `version` is the shape's version (1). The schemas list every
field exactly (`additionalProperties: false`), so a receiver may validate strictly: any change of fields, an
added one too, makes the next version. Numbers are strings (plain decimals, at most 8 places), as
in the API. Requests carry Standard Webhooks' headers: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
"""

from typing import Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from shared.webhooks.events import PAYLOAD_VERSION
from shared.webhooks.models import EventType


class _Shape(BaseModel):
    """Exactly these fields (the schema says `additionalProperties: false`): any change of fields is a new version."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Payload(_Shape):
    version: Literal[1] = Field(description="The payload shape's version", examples=[PAYLOAD_VERSION])
    timestamp: str = Field(
        description="When the event happened (ISO 8601, UTC)", examples=["2026-11-20T05:00:00+00:00"]
    )


class EventKpi(_Shape):
    id: str
    name: str = Field(examples=["CPA"])
    category: str = Field(examples=["output"])
    unit: str = Field(examples=["currency"])
    direction: str = Field(examples=["lower_is_better"])


class EventTarget(_Shape):
    id: str
    period: str | None = Field(examples=["2026-11"])
    start_date: str = Field(examples=["2026-11-01"])
    end_date: str = Field(examples=["2026-11-30"])
    target_value: str = Field(examples=["20"])


class EventEvaluation(_Shape):
    value: str | None = Field(examples=["24.5"])
    expected_to_date: str | None = Field(examples=["20"])
    forecast: str | None = Field(examples=["24.5"])
    attainment_pct: str | None = Field(examples=["81.63"])
    status: str | None = Field(examples=["off_track"])
    previous_status: str | None = Field(examples=["at_risk"])
    provisional: bool = Field(description="The window reaches days its sources may still restate")
    reason: str = Field(examples=["CPA is above the critical level 22 (confirmed by 2 evaluations)"])


class EventAlert(_Shape):
    id: str
    status: str = Field(examples=["open"])
    severity: str = Field(examples=["critical"])


class KpiEventData(_Shape):
    kpi: EventKpi
    target: EventTarget
    evaluation: EventEvaluation
    alert: EventAlert
    dashboard_url: str = Field(examples=["https://kpi.example/dashboard/kpis/01a2…"])


class KpiEvent(_Payload):
    """A KPI target's confirmed status changed: at risk, off track, back on track (recovered), or no data."""

    type: Literal["kpi.at_risk", "kpi.off_track", "kpi.recovered", "kpi.no_data"]
    data: KpiEventData


class EventPlan(_Shape):
    id: str
    name: str = Field(examples=["November"])
    period: str | None = Field(examples=["2026-11"])


class EventLine(_Shape):
    id: str
    name: str | None
    channel: str | None = Field(examples=["meta"])
    team_id: str | None
    campaign_id: str | None


class BudgetOverspendData(_Shape):
    plan: EventPlan
    line: EventLine
    planned: str = Field(examples=["3000.00"])
    actual: str = Field(examples=["3450.00"])
    overspend: str = Field(examples=["450.00"])
    currency: str = Field(examples=["EUR"])
    threshold_pct: float = Field(examples=[100])
    dashboard_url: str


class BudgetOverspendEvent(_Payload):
    """A budget line's actual spend (entered and ingested, in the budget's currency) passed its allocation."""

    type: Literal["budget.overspend"]
    data: BudgetOverspendData


class EventBatch(_Shape):
    id: str
    source: str = Field(examples=["meta"])
    points: int = Field(examples=[1200])
    error_code: str = Field(examples=["internal_error"])
    error: str
    received_at: str = Field(examples=["2026-11-20T05:00:00+00:00"])


class IngestBatchFailedData(_Shape):
    batch: EventBatch


class IngestBatchFailedEvent(_Payload):
    """An accepted batch failed for good (a fault on our side that persisted through retries)."""

    type: Literal["ingest.batch_failed"]
    data: IngestBatchFailedData


class WebhookTestData(_Shape):
    endpoint_id: str
    message: str
    dashboard_url: str


class WebhookTestEvent(_Payload):
    """Sent on request (`POST /v1/webhook-endpoints/{endpoint_id}/test`) to one endpoint."""

    type: Literal["webhook.test"]
    data: WebhookTestData


PAYLOADS: dict[EventType, type[_Payload]] = {
    EventType.kpi_at_risk: KpiEvent,
    EventType.kpi_off_track: KpiEvent,
    EventType.kpi_recovered: KpiEvent,
    EventType.kpi_no_data: KpiEvent,
    EventType.budget_overspend: BudgetOverspendEvent,
    EventType.ingest_batch_failed: IngestBatchFailedEvent,
    EventType.webhook_test: WebhookTestEvent,
}


def document_webhooks(app: FastAPI) -> None:
    """One operation per event type in the OpenAPI document's `webhooks`: the request we send, its signature
    headers, and the answers we expect (2xx delivered; 410 disables the endpoint; anything else is retried)."""
    for event_type, model in PAYLOADS.items():

        def operation(
            body: model,  # type: ignore[valid-type]
            webhook_id: str = Header(description="The event's id, the same on every attempt (deduplicate on it)"),
            webhook_timestamp: str = Header(description="Unix seconds the attempt was signed at"),
            webhook_signature: str = Header(
                description="`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, two space-separated during a secret "
                "rotation (Standard Webhooks)"
            ),
        ) -> None: ...

        app.webhooks.post(
            event_type.value,
            operation_id=f"webhooks_{event_type.value.replace('.', '_')}",
            summary=f"{event_type.value} (sent to your endpoint)",
            description=(model.__doc__ or "").strip(),
            responses={
                200: {"description": "Delivered (any 2xx)"},
                410: {"description": "Gone: the endpoint is disabled and gets no more events"},
            },
        )(operation)
