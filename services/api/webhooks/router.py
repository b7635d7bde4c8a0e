"""Routes: webhook endpoints (admin), their delivery log, secret rotation, replays and operator events."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Admin, SessionDep, StateDep
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Page
from services.api.webhooks import service
from services.api.webhooks.schemas import (
    AttemptOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    OperatorEventOut,
    ReplayAccepted,
    TestEventSent,
)
from shared.webhooks.models import EventType, WebhookEndpoint

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=V1_ERRORS)


def _out(endpoint: WebhookEndpoint, model=EndpointOut, **extra):
    fields = {name: getattr(endpoint, name) for name in model.model_fields if hasattr(endpoint, name)}
    fields["secret_rotating_until"] = endpoint.previous_secret_expires_at if endpoint.previous_secret else None
    return model(**{**fields, **extra})


@router.post("/webhook-endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret)
async def create_endpoint(body: EndpointCreate, session: SessionDep, _: Admin, state: StateDep) -> EndpointWithSecret:
    """Subscribe a URL to events (admin only): `kpi.at_risk`, `kpi.off_track`, `kpi.recovered`, `kpi.no_data`,
    `budget.overspend`, `ingest.batch_failed`, optionally only for some KPIs or categories.

    The `whsec_` signing secret is in this response only. Requests are signed per Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`). URLs that are or resolve to loopback, private,
    link-local or cloud-metadata addresses are refused (422), here and again at every delivery.
    """
    endpoint = await service.create_endpoint(session, body=body, settings=state.settings)
    return _out(endpoint, EndpointWithSecret, secret=endpoint.secret)


@router.get("/webhook-endpoints", response_model=Page[EndpointOut])
async def list_endpoints(
    session: SessionDep, _: Admin, page: PageDep, enabled: bool | None = None
) -> Page[EndpointOut]:
    """Your webhook endpoints, oldest first (secrets are never listed)."""
    endpoints, cursor = await service.list_endpoints(session, page=page, enabled=enabled)
    return Page[EndpointOut](items=[_out(e) for e in endpoints], next_cursor=cursor)


@router.get("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(endpoint_id: uuid.UUID, session: SessionDep, _: Admin) -> EndpointOut:
    """One endpoint, with why it was disabled if it was (410 from the receiver, or failing for days)."""
    return _out(await service.get_endpoint(session, endpoint_id=endpoint_id))


@router.patch("/webhook-endpoints/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointUpdate, session: SessionDep, _: Admin, state: StateDep
) -> EndpointOut:
    """Change an endpoint's URL, filters or `enabled` flag (enabling it clears the reason it was disabled)."""
    return _out(await service.update_endpoint(session, endpoint_id=endpoint_id, body=body, settings=state.settings))


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(endpoint_id: uuid.UUID, session: SessionDep, _: Admin) -> Response:
    """Delete an endpoint with its deliveries and their log."""
    await service.delete_endpoint(session, endpoint_id=endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
async def rotate_secret(endpoint_id: uuid.UUID, session: SessionDep, _: Admin, state: StateDep) -> EndpointWithSecret:
    """Issue a new secret (shown once). For `WEBHOOK_SECRET_OVERLAP_HOURS` both the old and the new secret sign
    each request (two space-separated signatures), so receivers can switch without losing a webhook."""
    endpoint = await service.rotate_secret(session, endpoint_id=endpoint_id, settings=state.settings)
    return _out(endpoint, EndpointWithSecret, secret=endpoint.secret)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
    response_model=TestEventSent,
)
async def send_test_event(endpoint_id: uuid.UUID, session: SessionDep, _: Admin, state: StateDep) -> TestEventSent:
    """Send a signed `webhook.test` event to this endpoint now (admin only), through the normal delivery path: the
    same signature headers, retries and delivery log as every event, whatever event types it subscribes to. Its
    attempt shows in `GET /v1/webhook-endpoints/{endpoint_id}/deliveries` (the receiver's status code and answer).
    A disabled endpoint is a 409."""
    event = await service.send_test(session, endpoint_id=endpoint_id, settings=state.settings)
    return TestEventSent(
        event_id=event.id,
        event_type=event.type.value,
        endpoint_id=endpoint_id,
        deliveries_url=f"/v1/webhook-endpoints/{endpoint_id}/deliveries?event_type={event.type.value}",
    )


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response_model=Page[AttemptOut])
async def list_deliveries(
    endpoint_id: uuid.UUID, session: SessionDep, _: Admin, page: PageDep, event_type: EventType | None = None
) -> Page[AttemptOut]:
    """The delivery log, oldest first: every attempt with its status code, duration, attempt number, trigger
    (scheduled or manual), outcome and the start of the receiver's answer."""
    rows, cursor = await service.list_attempts(session, endpoint_id=endpoint_id, page=page, event_type=event_type)
    items = [
        AttemptOut(
            **{name: getattr(attempt, name) for name in AttemptOut.model_fields if hasattr(attempt, name)},
            event_id=event_id,
            event_type=event_type_.value,
            delivery_status=delivery_status,
        )
        for attempt, delivery_status, event_id, event_type_ in rows
    ]
    return Page[AttemptOut](items=items, next_cursor=cursor)


@router.post(
    "/webhook-deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
    response_model=ReplayAccepted,
)
async def retry_delivery(delivery_id: uuid.UUID, session: SessionDep, _: Admin) -> ReplayAccepted:
    """Send a delivery again now (a manual attempt), with the same `webhook-id` as before."""
    delivery = await service.replay(session, delivery_id=delivery_id)
    return ReplayAccepted(delivery_id=delivery.id, status=delivery.status)


@router.get("/operator-events", summary="List operator events", response_model=Page[OperatorEventOut])
async def list_operator_events(
    session: SessionDep,
    _: Admin,
    page: PageDep,
    kind: Annotated[str | None, Query(max_length=64, examples=["webhook_endpoint_disabled"])] = None,
    endpoint_id: uuid.UUID | None = None,
    channel_id: uuid.UUID | None = None,
) -> Page[OperatorEventOut]:
    """What an operator should know about, oldest first (admin only): every webhook endpoint that delivery
    disabled (`kind` `webhook_endpoint_disabled`), with its URL, and every notification channel
    (`notification_channel_disabled`), with its name; each with the reason and `cause` `gone` (the receiver
    answered 410) or `failing` (every delivery failed for `WEBHOOK_DISABLE_AFTER_DAYS`)."""
    events, cursor = await service.list_operator_events(
        session, page=page, kind=kind, endpoint_id=endpoint_id, channel_id=channel_id
    )
    return Page[OperatorEventOut](items=[OperatorEventOut.model_validate(e) for e in events], next_cursor=cursor)
