"""Answers an outside check found inconsistent (issue 17): each 422 entry typed, problems worded alike."""

from tests.ingest_support import point, push, push_and_wait


async def test_a_day_out_of_range_is_refused_without_an_empty_unknown_metrics_list(client, keys):
    r = await push(client, keys.headers("ingest"), [point("clicks", 1, "1999-12-31")])
    assert r.status_code == 422, r.text
    body = r.json()
    assert "unknown_metrics" not in body and [e["type"] for e in body["errors"]] == ["day_range"], body
    r = await push(client, keys.headers("ingest"), [point("clickz", 1, "2026-11-02")])
    assert r.json()["unknown_metrics"] == ["clickz"], r.text


async def test_a_private_webhook_url_names_the_setting_that_allows_it(client, org):
    r = await client.post("/v1/webhook-endpoints", json={"url": "http://10.0.0.7/hook"}, headers=org.headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["type"] == "unsafe_url" and "WEBHOOK_ALLOWED_CIDRS" in error["message"], error


async def test_levels_in_the_wrong_order_say_how_they_were_read(client, org):
    kpi = {"name": "CPA", "category": "output", "formula": "spend / conversions", "unit": "currency"}
    kpi_id = (await client.post("/v1/kpis", json={**kpi, "direction": "lower_is_better"}, headers=org.headers)).json()[
        "id"
    ]
    target = {"start_date": "2026-11-01", "end_date": "2026-11-30", "target_value": "40", "warning": "10"}
    r = await client.post(f"/v1/kpis/{kpi_id}/targets", json=target, headers=org.headers)
    assert r.status_code == 422, r.text
    assert "threshold_mode percent" in r.json()["detail"] and "threshold_mode: absolute" in r.json()["detail"]
    ok = await client.post(f"/v1/kpis/{kpi_id}/targets", json={**target, "warning": "110"}, headers=org.headers)
    assert ok.status_code == 201, ok.text
    # A target without a period label overlapping it: the 409 reads without a gap where a label would be.
    clash = {"start_date": "2026-11-15", "end_date": "2026-12-15", "target_value": "40", "warning": "110"}
    r = await client.post(f"/v1/kpis/{kpi_id}/targets", json=clash, headers=org.headers)
    assert r.status_code == 409 and "  " not in r.json()["detail"], r.text
    assert "a target for 2026-11-01..2026-11-30, which overlaps" in r.json()["detail"], r.text


async def test_dates_out_of_order_point_at_the_later_date_in_plain_words(client, org):
    plan = {"name": "Q", "start_date": "2026-11-30", "end_date": "2026-11-01"}
    r = await client.post("/v1/plans", json=plan, headers=org.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "location": "body.end_date",
            "message": "end_date (2026-11-01) is before start_date (2026-11-30)",
            "type": "date_order",
        }
    ]


async def test_an_empty_platform_report_is_an_empty_batch_done_at_once(client, keys):
    ingest = keys.headers("ingest")
    for source, report in (("meta", {"data": []}), ("google_ads", {"results": []}), ("tiktok", {"data": {"list": []}})):
        r = await client.post(
            f"/v1/ingest/{source}", json=report, headers={**ingest, "Idempotency-Key": f"quiet-{source}"}
        )
        assert r.status_code == 202 and r.json()["status"] == "done", (source, r.text)
        batch = (await client.get(f"/v1/ingest/batches/{r.json()['batch_id']}", headers=ingest)).json()
        assert (batch["status"], batch["point_count"], batch["inserted"], batch["error"]) == ("done", 0, 0, None)
        again = await client.post(
            f"/v1/ingest/{source}", json=report, headers={**ingest, "Idempotency-Key": f"quiet-{source}"}
        )
        assert again.status_code == 200 and again.json()["batch_id"] == r.json()["batch_id"], again.text


async def test_a_json_route_answers_another_media_type_with_415_and_bad_json_with_where(client, org):
    kpi = (
        '{"name": "Leads", "category": "output", "formula": "leads", "unit": "count", "direction": "higher_is_better"}'
    )
    r = await client.post("/v1/kpis", content=kpi, headers={**org.headers, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json", r.text
    assert "application/json" in r.json()["detail"]
    ok = await client.post("/v1/kpis", content=kpi, headers={**org.headers, "Content-Type": "application/json"})
    assert ok.status_code == 201, ok.text
    broken = '{"name": "Leads",\n "formula": }'
    r = await client.post("/v1/kpis", content=broken, headers={**org.headers, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert (error["location"], error["type"]) == ("body", "json_invalid")
    assert error["message"].startswith("invalid JSON at line 2, column 13"), error


async def test_numbers_are_written_one_way_at_most_eight_places(client, keys):
    ingest, editor = keys.headers("ingest"), keys.headers("editor")
    done = await push_and_wait(client, ingest, [point("clicks", 1, "2026-11-02"), point("leads", 3, "2026-11-02")])
    assert done["status"] == "done", done
    kpi = {"name": "Rate", "category": "output", "formula": "clicks / leads", "unit": "ratio"}
    kpi_id = (await client.post("/v1/kpis", json={**kpi, "direction": "higher_is_better"}, headers=editor)).json()["id"]
    for grain in ("day", "week", "month"):
        r = await client.get(f"/v1/kpis/{kpi_id}/values?grain={grain}&from=2026-11-02&to=2026-11-02", headers=editor)
        assert [v["value"] for v in r.json()["values"]] == ["0.33333333"], (grain, r.text)


async def test_bodies_read_by_their_routes_say_where_json_breaks_too(client, keys):
    for path in ("/v1/ingest/metrics", "/v1/fx-rates"):
        method = client.put if path == "/v1/fx-rates" else client.post
        r = await method(
            path,
            content='{"points": [\n  {"metric": }]}',
            headers={**keys.headers("admin"), "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert (error["location"], error["type"]) == ("body", "json_invalid"), error
        assert error["message"].startswith("invalid JSON at line 2, column 14: Expecting value"), error


async def test_routes_that_read_their_own_body_answer_another_media_type_with_415(client, keys):
    admin = {**keys.headers("admin"), "Content-Type": "application/xml"}
    for method, path in (("POST", "/v1/ingest/metrics"), ("PUT", "/v1/fx-rates")):
        r = await client.request(method, path, content="<points/>", headers=admin)
        assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json", (path, r.text)


async def test_an_edit_that_puts_dates_out_of_order_is_typed_date_order_too(client, org):
    plan = (await client.post("/v1/plans", json={"name": "Nov", "period_label": "2026-11"}, headers=org.headers)).json()
    r = await client.patch(
        f"/v1/plans/{plan['id']}",
        json={"start_date": "2026-11-20", "end_date": "2026-11-10", "period_label": None},
        headers=org.headers,
    )
    assert r.status_code == 422, r.text
    assert [(e["location"], e["type"]) for e in r.json()["errors"]] == [("body.end_date", "date_order")], r.text
