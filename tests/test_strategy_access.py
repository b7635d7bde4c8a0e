"""Who may do what in the strategy domain, what another organisation sees, and what lists cost."""

import uuid

import pytest

PROBLEM = "application/problem+json"

COLLECTIONS = {
    "/v1/business-goals": {"title": "Grow online revenue 30% in 2027"},
    "/v1/objectives": {"statement": "Raise monthly online orders to 12,000 by December"},
    "/v1/segments": {"name": "Mid-size retailers"},
    "/v1/competitors": {"name": "ShopFast"},
}
PATCHES = {
    "/v1/business-goals": {"title": "Renamed"},
    "/v1/objectives": {"statement": "Renamed objective statement here"},
    "/v1/segments": {"name": "Renamed"},
    "/v1/competitors": {"name": "Renamed"},
}


async def create_each(client, headers) -> dict[str, dict]:
    created = {}
    for path, body in COLLECTIONS.items():
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        created[path] = r.json()
    return created


async def test_editors_create_change_and_delete_everything(client, keys):
    editor = keys.headers("editor")
    created = await create_each(client, editor)
    for path, item in created.items():
        r = await client.patch(f"{path}/{item['id']}", json=PATCHES[path], headers=editor)
        assert r.status_code == 200, (path, r.text)
    for path in ("/v1/objectives", "/v1/business-goals", "/v1/segments", "/v1/competitors"):
        assert (await client.delete(f"{path}/{created[path]['id']}", headers=editor)).status_code == 204
        assert (await client.get(path, headers=editor)).json()["items"] == []


async def test_another_orgs_ids_are_404_and_its_rows_never_listed(client, org, other_org):
    theirs = await create_each(client, org.headers)
    for path, item in theirs.items():
        url = f"{path}/{item['id']}"
        for r in (
            await client.get(url, headers=other_org.headers),
            await client.patch(url, json=PATCHES[path], headers=other_org.headers),
            await client.delete(url, headers=other_org.headers),
        ):
            assert r.status_code == 404, (url, r.request.method)
            assert r.headers["content-type"] == PROBLEM
        assert (await client.get(path, headers=other_org.headers)).json()["items"] == []
        assert (await client.get(url, headers=org.headers)).json() == item, "B must not have changed A's row"

    # Linking to another organisation's goal is an unknown reference, in a create and in a patch.
    goal_id = theirs["/v1/business-goals"]["id"]
    mine = await client.post(
        "/v1/objectives",
        json={"statement": "Objective of org B here", "business_goal_id": goal_id},
        headers=other_org.headers,
    )
    assert mine.status_code == 422
    own = await client.post("/v1/objectives", json={"statement": "Objective of org B here"}, headers=other_org.headers)
    r = await client.patch(
        f"/v1/objectives/{own.json()['id']}", json={"business_goal_id": goal_id}, headers=other_org.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.business_goal_id"
    # The goal filter cannot reach across either.
    r = await client.get("/v1/objectives", params={"business_goal_id": goal_id}, headers=other_org.headers)
    assert r.json()["items"] == []


async def test_unknown_ids_are_404_problems(client, org):
    for path in COLLECTIONS:
        r = await client.get(f"{path}/{uuid.uuid4()}", headers=org.headers)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert (await client.get(f"{path}/not-a-uuid", headers=org.headers)).status_code == 422


async def _fill(client, headers, path: str, start: int, stop: int, goal_id: str) -> None:
    for i in range(start, stop):
        body = {
            "/v1/business-goals": {"title": f"Goal {i}"},
            "/v1/objectives": {
                "statement": f"Objective number {i} of this test",
                "business_goal_id": goal_id,
                "target_value": "10",
                "deadline": "2030-01-01",
            },
            "/v1/segments": {"name": f"Segment {i}"},
            "/v1/competitors": {"name": f"Competitor {i}", "estimated_share_pct": "1"},
        }[path]
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "url",
    [
        "/v1/business-goals",
        "/v1/objectives",
        "/v1/objectives?smart=warn",
        "/v1/segments",
        "/v1/competitors",
        "/v1/market-analysis",
    ],
)
async def test_lists_run_the_same_number_of_queries_for_3_or_30_rows(client, org, count_queries, url):
    path = url.split("?")[0]
    goal_id = (await client.post("/v1/business-goals", json={"title": "Parent"}, headers=org.headers)).json()["id"]
    fill = ["/v1/segments", "/v1/competitors"] if path == "/v1/market-analysis" else [path]

    async def measure() -> tuple[int, int]:
        await client.get(url, headers=org.headers)  # warm up: the key's last-use stamp is written at most once
        with count_queries as q:
            r = await client.get(url, params={"limit": 200}, headers=org.headers)
        assert r.status_code == 200
        body = r.json()
        return q.count, len(body["items"] if "items" in body else body["segments"])

    for p in fill:
        await _fill(client, org.headers, p, 0, 3, goal_id)
    few, few_rows = await measure()
    for p in fill:
        await _fill(client, org.headers, p, 3, 30, goal_id)
    many, many_rows = await measure()

    assert few_rows in (3, 4) and many_rows in (30, 31)  # goals: the parent goal is listed too
    assert many == few, f"{url}: {few} queries for 3 rows, {many} for 30"
