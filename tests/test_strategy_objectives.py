"""Editors set business goals and SMART objectives; every objective answers with its SMART check."""

import uuid
from datetime import UTC, date, datetime, timedelta

from services.api.strategy import service
from shared.db.scoping import bind_org
from shared.department.models import Team
from shared.plans.models import Campaign, Plan

PROBLEM = "application/problem+json"
TODAY = datetime.now(UTC).date()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


async def add_team(state, org, name: str = "Growth") -> str:
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        team = Team(name=name)
        session.add(team)
        await session.commit()
        return str(team.id)


async def add_goal(client, headers, **fields) -> dict:
    body = {"title": "Grow online revenue 30% in 2027", **fields}
    r = await client.post("/v1/business-goals", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def good_objective(goal_id: str, **fields) -> dict:
    return {
        "statement": "Raise monthly online orders from returning customers to 12,000",
        "business_goal_id": goal_id,
        "unit": "orders/month",
        "baseline_value": "9000",
        "target_value": "12000",
        "start_date": days(0),
        "deadline": days(364),
        "status": "active",
        **fields,
    }


async def add_objective(client, headers, body: dict) -> dict:
    r = await client.post("/v1/objectives", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def list_all(client, path: str, headers, **params) -> list[dict]:
    r = await client.get(path, params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return r.json()["items"]


def verdicts(objective: dict) -> dict[str, str]:
    smart = objective["smart"]
    return {letter: smart[letter]["verdict"] for letter in smart if letter != "overall"} | {"overall": smart["overall"]}


async def test_editor_sets_a_goal_and_an_objective_and_reads_its_smart_check(client, org, keys, state):
    editor = keys.headers("editor")
    team_id = await add_team(state, org)
    goal = await add_goal(client, editor, description="Web shop revenue 10M to 13M EUR", target_date="2027-12-31")
    assert goal["status"] == "active" and goal["target_date"] == "2027-12-31"

    r = await client.post("/v1/objectives", json=good_objective(goal["id"], owner_team_id=team_id), headers=editor)

    assert r.status_code == 201, r.text
    created = r.json()
    assert created["baseline_value"] == "9000" and created["target_value"] == "12000"
    assert created["owner_team_id"] == team_id and created["business_goal_id"] == goal["id"]
    # No KPI is linked to this objective, so a numeric target is only a warning for "measurable".
    assert verdicts(created) == {
        "specific": "pass",
        "measurable": "warn",
        "achievable": "pass",
        "relevant": "pass",
        "time_bound": "pass",
        "overall": "warn",
    }
    assert (
        created["smart"]["measurable"]["reason"]
        == "target 12000 orders/month set, but no KPI is linked yet to measure it"
    )
    assert created["smart"]["achievable"]["reason"].startswith("needs +33% vs baseline in 12 months")

    read = (await client.get(f"/v1/objectives/{created['id']}", headers=keys.headers("viewer"))).json()
    assert read == created


async def test_an_objective_missing_every_part_is_saved_and_says_what_is_wrong(client, org):
    created = await add_objective(client, org.headers, {"statement": "Grow sales"})

    assert created["status"] == "draft"
    assert verdicts(created) == {
        "specific": "fail",
        "measurable": "fail",
        "achievable": "warn",
        "relevant": "fail",
        "time_bound": "fail",
        "overall": "fail",
    }
    reasons = {letter: created["smart"][letter]["reason"] for letter in ("measurable", "relevant", "time_bound")}
    assert reasons == {
        "measurable": "no KPI linked and no numeric target",
        "relevant": "not linked to a business goal",
        "time_bound": "no deadline",
    }


async def test_a_large_jump_is_a_stretch_and_the_response_says_how_large(client, org):
    goal = await add_goal(client, org.headers)
    created = await add_objective(
        client, org.headers, good_objective(goal["id"], baseline_value="100", target_value="240", deadline=days(365))
    )
    achievable = created["smart"]["achievable"]
    assert achievable == {
        "verdict": "warn",
        "reason": "needs +140% vs baseline in 12 months, more than the 50%/year we call typical "
        "(a stretch up to 200%/year)",
    }


async def test_closing_the_goal_turns_its_objectives_relevance_into_a_warning(client, org):
    goal = await add_goal(client, org.headers)
    objective = await add_objective(client, org.headers, good_objective(goal["id"]))
    assert objective["smart"]["relevant"]["verdict"] == "pass"

    r = await client.patch(f"/v1/business-goals/{goal['id']}", json={"status": "dropped"}, headers=org.headers)
    assert r.status_code == 200 and r.json()["status"] == "dropped"

    after = (await client.get(f"/v1/objectives/{objective['id']}", headers=org.headers)).json()
    assert after["smart"]["relevant"] == {"verdict": "warn", "reason": "its business goal is dropped, no longer active"}
    listed = await list_all(client, "/v1/objectives", org.headers)
    assert listed[0]["smart"]["relevant"]["verdict"] == "warn"


async def test_a_passed_deadline_warns_until_the_objective_is_closed(client, org):
    goal = await add_goal(client, org.headers)
    late = await add_objective(
        client, org.headers, good_objective(goal["id"], start_date=days(-400), deadline=days(-3))
    )
    assert late["smart"]["time_bound"]["verdict"] == "warn"
    assert "passed 3 days ago and it is still active" in late["smart"]["time_bound"]["reason"]

    r = await client.patch(f"/v1/objectives/{late['id']}", json={"status": "achieved"}, headers=org.headers)

    assert r.status_code == 200
    assert r.json()["smart"]["time_bound"]["verdict"] == "pass"


async def test_patch_changes_only_what_was_sent_and_rechecks(client, org, state):
    goal = await add_goal(client, org.headers)
    created = await add_objective(client, org.headers, good_objective(goal["id"], description="why it matters"))

    r = await client.patch(
        f"/v1/objectives/{created['id']}",
        json={"target_value": "20000", "description": None},
        headers=org.headers,
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target_value"] == "20000" and body["description"] is None
    assert body["statement"] == created["statement"] and body["deadline"] == created["deadline"]
    assert body["smart"]["achievable"]["verdict"] == "warn"  # +122% in a year
    assert body["updated_at"] >= created["updated_at"]

    team_id = await add_team(state, org)
    moved = await client.patch(
        f"/v1/objectives/{created['id']}",
        json={"business_goal_id": None, "owner_team_id": team_id},
        headers=org.headers,
    )
    assert moved.status_code == 200
    assert moved.json()["owner_team_id"] == team_id
    assert moved.json()["smart"]["relevant"]["verdict"] == "fail"


async def test_patch_that_puts_the_deadline_before_the_stored_start_is_422_and_writes_nothing(client, org):
    goal = await add_goal(client, org.headers)
    created = await add_objective(client, org.headers, good_objective(goal["id"], start_date="2027-01-01"))

    for patch, field in (
        ({"deadline": "2026-12-31", "statement": "Changed statement that must not be saved"}, "deadline"),
        ({"start_date": "2030-01-01"}, "start_date"),
    ):
        r = await client.patch(f"/v1/objectives/{created['id']}", json=patch, headers=org.headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["location"] == f"body.{field}"

    stored = (await client.get(f"/v1/objectives/{created['id']}", headers=org.headers)).json()
    assert stored == created


async def test_patch_cannot_null_a_required_field(client, org):
    goal = await add_goal(client, org.headers)
    created = await add_objective(client, org.headers, good_objective(goal["id"]))
    for field in ("statement", "status"):
        r = await client.patch(f"/v1/objectives/{created['id']}", json={field: None}, headers=org.headers)
        assert r.status_code == 422, field
        assert r.json()["errors"][0]["location"] == f"body.{field}"
    r = await client.patch(f"/v1/business-goals/{goal['id']}", json={"title": None}, headers=org.headers)
    assert r.status_code == 422
    stored = (await client.get(f"/v1/objectives/{created['id']}", headers=org.headers)).json()
    assert stored["statement"] == created["statement"] and stored["status"] == "active"


async def test_bad_objectives_are_422_problems_and_nothing_is_written(client, org, other_org):
    goal = await add_goal(client, org.headers)
    foreign_goal = await add_goal(client, other_org.headers)
    base = good_objective(goal["id"])
    bad = [
        ({**base, "statement": ""}, "body.statement"),
        ({**base, "statement": "x" * 501}, "body.statement"),
        ({**base, "statement": 42}, "body.statement"),
        ({**base, "status": "done"}, "body.status"),
        ({**base, "baseline_value": "lots"}, "body.baseline_value"),
        ({**base, "target_value": "1e30"}, "body.target_value"),
        ({**base, "target_value": "1.1234567"}, "body.target_value"),
        ({**base, "target_value": "NaN"}, "body.target_value"),
        ({**base, "deadline": "2027-02-30"}, "body.deadline"),
        ({**base, "start_date": "2027-06-01", "deadline": "2027-05-31"}, "body.deadline"),
        ({**base, "business_goal_id": str(uuid.uuid4())}, "body.business_goal_id"),
        ({**base, "business_goal_id": foreign_goal["id"]}, "body.business_goal_id"),
        ({**base, "business_goal_id": "not-a-uuid"}, "body.business_goal_id"),
        ({**base, "owner_team_id": str(uuid.uuid4())}, "body.owner_team_id"),
        ({**base, "unit": "u" * 33}, "body.unit"),
        ({**base, "kpi_ids": []}, "body.kpi_ids"),
    ]
    for body, location in bad:
        r = await client.post("/v1/objectives", json=body, headers=org.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert location in {e["location"] for e in r.json()["errors"]}, (location, r.json())

    assert await list_all(client, "/v1/objectives", org.headers) == []
    r = await client.post("/v1/objectives", json={"statement": "ok", "unknown": 1}, headers=org.headers)
    assert r.status_code == 422


async def test_a_goal_that_objectives_serve_cannot_be_deleted_and_the_409_names_them(client, org):
    goal = await add_goal(client, org.headers)
    first = await add_objective(
        client, org.headers, good_objective(goal["id"], statement="Win 40 retail accounts in DACH")
    )
    second = await add_objective(
        client, org.headers, good_objective(goal["id"], statement="Double webinar signups to 800")
    )

    r = await client.delete(f"/v1/business-goals/{goal['id']}", headers=org.headers)

    assert r.status_code == 409
    body = r.json()
    assert body["referenced_by"] == {"objectives": 2}
    assert '"Win 40 retail accounts in DACH"' in body["detail"] and "Double webinar signups" in body["detail"]
    assert [o["id"] for o in body["objectives"]] == [first["id"], second["id"]]
    assert (await client.get(f"/v1/business-goals/{goal['id']}", headers=org.headers)).status_code == 200

    for objective in await list_all(client, "/v1/objectives", org.headers):
        assert (await client.delete(f"/v1/objectives/{objective['id']}", headers=org.headers)).status_code == 204
    assert (await client.delete(f"/v1/business-goals/{goal['id']}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/v1/business-goals/{goal['id']}", headers=org.headers)).status_code == 404


async def test_an_objective_a_campaign_works_towards_cannot_be_deleted(client, org, state):
    objective = await add_objective(client, org.headers, {"statement": "Reach 5,000 trial signups by June"})
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        plan = Plan(name="2027", start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
        session.add(plan)
        await session.flush()
        session.add(
            Campaign(
                plan_id=plan.id,
                name="Spring trial push",
                channel="meta",
                objective_id=uuid.UUID(objective["id"]),
                start_date=date(2027, 3, 1),
                end_date=date(2027, 5, 31),
            )
        )
        await session.commit()

    r = await client.delete(f"/v1/objectives/{objective['id']}", headers=org.headers)

    assert r.status_code == 409
    assert r.json()["referenced_by"] == {"campaigns": 1}
    assert "referenced by 1 campaign;" in r.json()["detail"]
    assert (await client.get(f"/v1/objectives/{objective['id']}", headers=org.headers)).status_code == 200


async def test_objectives_filter_by_goal_status_team_and_smart_verdict(client, org, state):
    team_id = await add_team(state, org)
    goal_a = await add_goal(client, org.headers, title="Goal A")
    goal_b = await add_goal(client, org.headers, title="Goal B")
    warn = await add_objective(client, org.headers, good_objective(goal_a["id"], owner_team_id=team_id))
    fail = await add_objective(client, org.headers, good_objective(goal_b["id"], deadline=None, status="draft"))
    vague = await add_objective(
        client,
        org.headers,
        good_objective(goal_a["id"], statement="Improve brand awareness overall", target_value=None),
    )

    async def ids(**params) -> list[str]:
        return [o["id"] for o in await list_all(client, "/v1/objectives", org.headers, **params)]

    assert await ids(business_goal_id=goal_a["id"]) == [warn["id"], vague["id"]]
    assert await ids(status="draft") == [fail["id"]]
    assert await ids(owner_team_id=team_id) == [warn["id"]]
    assert await ids(smart="fail") == [fail["id"], vague["id"]]
    assert await ids(smart="warn") == [warn["id"]]
    assert await ids(smart="pass") == []
    assert await ids(smart="fail", business_goal_id=goal_a["id"]) == [vague["id"]]
    for query in ("smart=bad", "status=done", "business_goal_id=nope"):
        r = await client.get(f"/v1/objectives?{query}", headers=org.headers)
        assert r.status_code == 422, query


async def test_smart_filter_pages_are_full_and_neither_skip_nor_repeat(client, org, monkeypatch):
    # Scan 3 rows per query so the 13 objectives below span several scan chunks.
    monkeypatch.setattr(service, "SMART_SCAN_CHUNK", 3)
    goal = await add_goal(client, org.headers)
    failing = []
    for i in range(13):
        if i % 3 == 0:
            await add_objective(
                client, org.headers, good_objective(goal["id"], statement=f"Open {i} new stores in Bavaria")
            )
        else:
            failing.append((await add_objective(client, org.headers, {"statement": f"Objective {i}"}))["id"])

    seen, pages, cursor = [], [], None
    while True:
        params = {"limit": 3, "smart": "fail", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/objectives", params=params, headers=org.headers)).json()
        pages.append(len(body["items"]))
        seen += [o["id"] for o in body["items"]]
        assert all(o["smart"]["overall"] == "fail" for o in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == failing
    assert pages == [3, 3, 2]


async def test_goals_and_objectives_page_by_cursor(client, org):
    goal_ids = [(await add_goal(client, org.headers, title=f"Goal {i}"))["id"] for i in range(5)]
    objective_ids = [
        (await add_objective(client, org.headers, {"statement": f"Objective {i}", "business_goal_id": goal_ids[0]}))[
            "id"
        ]
        for i in range(5)
    ]
    for path, expected in (("/v1/business-goals", goal_ids), ("/v1/objectives", objective_ids)):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = (await client.get(path, params=params, headers=org.headers)).json()
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert (seen, pages) == (expected, 3), path


async def test_goals_filter_by_status(client, org):
    active = await add_goal(client, org.headers, title="Active goal")
    achieved = await add_goal(client, org.headers, title="Done goal", status="achieved")
    assert [g["id"] for g in await list_all(client, "/v1/business-goals", org.headers, status="achieved")] == [
        achieved["id"]
    ]
    assert [g["id"] for g in await list_all(client, "/v1/business-goals", org.headers, status="active")] == [
        active["id"]
    ]
    for body in ({"title": ""}, {"title": "ok", "status": "paused"}, {"title": "ok", "target_date": "soon"}):
        r = await client.post("/v1/business-goals", json=body, headers=org.headers)
        assert r.status_code == 422, body
    assert len(await list_all(client, "/v1/business-goals", org.headers)) == 2


async def _objective_measured_by_two_kpis(client, headers, goal_id: str, i: int) -> dict:
    objective = await add_objective(client, headers, good_objective(goal_id, statement=f"Raise repeat orders {i}"))
    link = [{"objective_id": objective["id"], "weight": "2.5"}]
    for name in (f"Repeat orders {i}", f"Cost per repeat order {i}"):
        body = {"name": name, "category": "output", "formula": "spend / clicks", "unit": "currency"}
        r = await client.post(
            "/v1/kpis", json={**body, "direction": "lower_is_better", "objectives": link}, headers=headers
        )
        assert r.status_code == 201, r.text
    return objective


async def test_objectives_show_the_kpis_that_measure_them(client, org):
    goal = await add_goal(client, org.headers)
    measured = await _objective_measured_by_two_kpis(client, org.headers, goal["id"], 1)
    alone = await add_objective(client, org.headers, good_objective(goal["id"], statement="Raise newsletter signups"))
    assert alone["kpis"] == []

    one = (await client.get(f"/v1/objectives/{measured['id']}", headers=org.headers)).json()
    assert [(k["name"], k["weight"]) for k in one["kpis"]] == [
        ("Cost per repeat order 1", "2.5"),
        ("Repeat orders 1", "2.5"),
    ]
    assert one["smart"]["measurable"]["reason"].endswith("measured by 2 KPIs")
    listed = {o["id"]: o["kpis"] for o in await list_all(client, "/v1/objectives", org.headers)}
    assert listed == {measured["id"]: one["kpis"], alone["id"]: []}
    for link in one["kpis"]:
        kpi = (await client.get(f"/v1/kpis/{link['kpi_id']}", headers=org.headers)).json()
        assert (kpi["name"], kpi["objectives"]) == (link["name"], [{"objective_id": measured["id"], "weight": "2.5"}])


async def test_the_objective_list_loads_kpi_links_in_a_constant_number_of_statements(client, org, count_queries):
    goal = await add_goal(client, org.headers)

    async def statements() -> int:
        await client.get("/v1/objectives", headers=org.headers)  # warm up: the key's last-use stamp
        with count_queries as q:
            r = await client.get("/v1/objectives", params={"limit": 200}, headers=org.headers)
        assert r.status_code == 200 and all(len(o["kpis"]) == 2 for o in r.json()["items"])
        return q.count

    for i in range(2):
        await _objective_measured_by_two_kpis(client, org.headers, goal["id"], i)
    few = await statements()
    for i in range(2, 20):
        await _objective_measured_by_two_kpis(client, org.headers, goal["id"], i)
    assert await statements() == few
