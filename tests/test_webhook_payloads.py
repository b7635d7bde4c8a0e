"""Every webhook payload has a documented, versioned shape (the OpenAPI document's `webhooks`), and what is
really delivered to a real receiver matches it; a test event goes through the normal delivery path."""

import json

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from services.api.main import create_app
from services.api.webhooks.payloads import PAYLOADS
from shared.webhooks.models import WEBHOOK_EVENT_TYPES, EventType
from tests.ingest_support import point, push_and_wait
from tests.receiver import running_receiver
from tests.test_alerts_e2e import DAY, cpa_with_target, delivery_log, subscribe

SPEC = create_app().openapi()


def assert_valid(event_type: str, payload: dict) -> None:
    """The payload is exactly of the shape documented for its type: the model the document's schema is generated
    from, validated strictly (no coercion, no field it does not name)."""
    documented = SPEC["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = PAYLOADS[EventType(event_type)]
    assert documented["$ref"].endswith("/" + model.__name__)
    model.model_validate(payload)


def test_every_event_type_is_documented_with_its_signature_headers():
    assert set(SPEC["webhooks"]) == {t.value for t in WEBHOOK_EVENT_TYPES}
    for event_type, item in SPEC["webhooks"].items():
        operation = item["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event_type
        assert operation["description"] and operation["operationId"].startswith("webhooks_"), event_type


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("webhook.test", {"type": "webhook.test", "version": 2, "timestamp": "x", "data": {}}),
        ("kpi.off_track", {"type": "kpi.off_track", "version": 1, "timestamp": "x", "data": {"kpi": {}}}),
        ("budget.overspend", {"type": "budget.overspend", "version": 1, "timestamp": "x"}),
    ],
)
def test_the_schemas_refuse_payloads_of_another_shape(event_type, payload):
    with pytest.raises(ValidationError):  # a schema that accepted anything would check nothing
        assert_valid(event_type, payload)
    schema = SPEC["components"]["schemas"][PAYLOADS[EventType(event_type)].__name__]
    assert schema["additionalProperties"] is False


async def test_a_test_event_is_signed_delivered_logged_and_of_its_documented_shape(client, keys):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        # The endpoint subscribes to budget events only: a test event reaches it all the same.
        endpoint = await subscribe(client, admin, receiver.url, event_types=["budget.overspend"])
        r = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin)
        assert r.status_code == 202, r.text
        sent = r.json()
        [received] = await receiver.wait_for(1)
        verified = Webhook(endpoint["secret"]).verify(received.body, received.headers)
        assert received.headers["webhook-id"] == sent["event_id"] and verified["type"] == "webhook.test"
        assert_valid("webhook.test", json.loads(received.body))
        [attempt] = await delivery_log(client, admin, endpoint["id"], 1)
        assert (attempt["event_type"], attempt["status_code"], attempt["outcome"]) == ("webhook.test", 200, "delivered")
        listed = (await client.get(sent["deliveries_url"], headers=admin)).json()["items"]
        assert [a["event_id"] for a in listed] == [sent["event_id"]]
    disabled = await client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": False}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    r = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin)
    assert r.status_code == 409, r.text
    viewer = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=keys.headers("viewer"))
    assert viewer.status_code == 403


async def test_a_kpi_event_as_delivered_is_of_its_documented_shape(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with running_receiver() as receiver:
        await subscribe(client, admin, receiver.url, event_types=["kpi.off_track"])
        await cpa_with_target(client, admin)
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])
        [off] = await receiver.wait_for(1)
        payload = json.loads(off.body)
        assert payload["version"] == 1 and payload["data"]["target"]["target_value"] == "10"
        assert_valid("kpi.off_track", payload)
