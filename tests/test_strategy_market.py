"""Editors record the market analysis: target segments and competitors, and read it on one page."""

PROBLEM = "application/problem+json"


async def post(client, path: str, headers, body: dict) -> dict:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def names(client, path: str, headers, **params) -> list[str]:
    r = await client.get(path, params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return [item["name"] for item in r.json()["items"]]


async def test_editor_records_a_segment_and_changes_its_priority(client, keys):
    editor = keys.headers("editor")
    segment = await post(
        client,
        "/v1/segments",
        editor,
        {"name": "Mid-size retailers in DACH", "size_estimate": 42000, "size_unit": "companies", "priority": "high"},
    )
    assert segment["size_estimate"] == 42000 and segment["priority"] == "high" and segment["description"] is None

    r = await client.patch(f"/v1/segments/{segment['id']}", json={"priority": "low"}, headers=editor)

    assert r.status_code == 200
    assert r.json()["priority"] == "low" and r.json()["size_estimate"] == 42000
    read = await client.get(f"/v1/segments/{segment['id']}", headers=keys.headers("viewer"))
    assert read.json() == r.json()


async def test_segments_default_to_medium_and_filter_by_priority(client, org):
    for name, priority in (("Enterprise", "high"), ("SMB", None), ("Consumers", "low"), ("Agencies", "high")):
        await post(client, "/v1/segments", org.headers, {"name": name} | ({"priority": priority} if priority else {}))
    assert await names(client, "/v1/segments", org.headers, priority="high") == ["Enterprise", "Agencies"]
    assert await names(client, "/v1/segments", org.headers, priority="medium") == ["SMB"]
    assert (await client.get("/v1/segments?priority=urgent", headers=org.headers)).status_code == 422


async def test_a_duplicate_segment_or_competitor_name_is_409_whatever_its_case(client, org, other_org):
    for path in ("/v1/segments", "/v1/competitors"):
        first = await post(client, path, org.headers, {"name": "ShopFast"})
        other = await post(client, path, org.headers, {"name": "Other"})
        for body in ({"name": "ShopFast"}, {"name": "  shopfast "}):
            r = await client.post(path, json=body, headers=org.headers)
            assert r.status_code == 409, (path, body)
            assert r.headers["content-type"] == PROBLEM
            assert "already exists" in r.json()["detail"] and r.json()["existing_id"] == first["id"]

        rename = await client.patch(f"{path}/{other['id']}", json={"name": "SHOPFAST"}, headers=org.headers)
        assert rename.status_code == 409
        same = await client.patch(f"{path}/{first['id']}", json={"name": "Shopfast"}, headers=org.headers)
        assert same.status_code == 200 and same.json()["name"] == "Shopfast"
        assert await names(client, path, org.headers) == ["Shopfast", "Other"]
        # Names are unique per organisation, not across them.
        await post(client, path, other_org.headers, {"name": "ShopFast"})


async def test_editor_records_a_competitor_and_a_list_sent_replaces_the_stored_one(client, keys):
    editor = keys.headers("editor")
    competitor = await post(
        client,
        "/v1/competitors",
        editor,
        {
            "name": "ShopFast",
            "website": "https://shopfast.example",
            "positioning": "Cheapest next-day delivery",
            "strengths": ["price", " delivery speed "],
            "weaknesses": ["customer service"],
            "estimated_share_pct": "18.5",
        },
    )
    assert competitor["strengths"] == ["price", "delivery speed"]
    assert competitor["estimated_share_pct"] == "18.50"

    r = await client.patch(
        f"/v1/competitors/{competitor['id']}",
        json={"strengths": ["brand"], "estimated_share_pct": None},
        headers=editor,
    )

    assert r.status_code == 200
    assert r.json()["strengths"] == ["brand"] and r.json()["weaknesses"] == ["customer service"]
    assert r.json()["estimated_share_pct"] is None
    for field in ("name", "strengths", "weaknesses"):
        nulled = await client.patch(f"/v1/competitors/{competitor['id']}", json={field: None}, headers=editor)
        assert nulled.status_code == 422, field
    stored = (await client.get(f"/v1/competitors/{competitor['id']}", headers=editor)).json()
    assert stored == r.json()


async def test_bad_segments_and_competitors_are_422_and_nothing_is_written(client, org):
    bad_segments = [
        ({"name": ""}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"name": "A", "size_estimate": -1}, "body.size_estimate"),
        ({"name": "A", "size_estimate": "many"}, "body.size_estimate"),
        ({"name": "A", "size_estimate": 1.5}, "body.size_estimate"),
        ({"name": "A", "size_estimate": 2**63}, "body.size_estimate"),
        ({"name": "A", "priority": "urgent"}, "body.priority"),
        ({"name": "A", "size_unit": "u" * 51}, "body.size_unit"),
        ({"name": "A", "owner": "me"}, "body.owner"),
    ]
    bad_competitors = [
        ({"name": "B", "estimated_share_pct": "100.01"}, "body.estimated_share_pct"),
        ({"name": "B", "estimated_share_pct": 101}, "body.estimated_share_pct"),
        ({"name": "B", "estimated_share_pct": -1}, "body.estimated_share_pct"),
        ({"name": "B", "estimated_share_pct": "12.345"}, "body.estimated_share_pct"),
        ({"name": "B", "estimated_share_pct": "a lot"}, "body.estimated_share_pct"),
        ({"name": "B", "strengths": "price"}, "body.strengths"),
        ({"name": "B", "strengths": [""]}, "body.strengths.0"),
        ({"name": "B", "weaknesses": [1]}, "body.weaknesses.0"),
        ({"name": "B", "weaknesses": ["w"] * 51}, "body.weaknesses"),
        ({"name": "B", "website": "shopfast.example"}, "body.website"),
        ({"name": "B", "website": "javascript:alert(1)"}, "body.website"),
        ({"name": None}, "body.name"),
    ]
    for path, cases in (("/v1/segments", bad_segments), ("/v1/competitors", bad_competitors)):
        for body, location in cases:
            r = await client.post(path, json=body, headers=org.headers)
            assert r.status_code == 422, (path, body, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert location in {e["location"] for e in r.json()["errors"]}, (location, r.json())
        assert await names(client, path, org.headers) == []

    segment = await post(client, "/v1/segments", org.headers, {"name": "A", "size_estimate": 10})
    r = await client.patch(f"/v1/segments/{segment['id']}", json={"size_estimate": -5}, headers=org.headers)
    assert r.status_code == 422
    assert (await client.get(f"/v1/segments/{segment['id']}", headers=org.headers)).json()["size_estimate"] == 10


async def test_segments_and_competitors_page_by_cursor_and_delete(client, org):
    for path in ("/v1/segments", "/v1/competitors"):
        created = [(await post(client, path, org.headers, {"name": f"N{i}"}))["id"] for i in range(5)]
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = (await client.get(path, params=params, headers=org.headers)).json()
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert (seen, pages) == (created, 3), path

        assert (await client.delete(f"{path}/{created[0]}", headers=org.headers)).status_code == 204
        assert (await client.get(f"{path}/{created[0]}", headers=org.headers)).status_code == 404
        assert (await client.delete(f"{path}/{created[0]}", headers=org.headers)).status_code == 404
        assert await names(client, path, org.headers) == ["N1", "N2", "N3", "N4"]


async def test_market_analysis_shows_both_lists_and_warns_when_shares_exceed_100(client, org, other_org):
    for name, priority in (("Consumers", "low"), ("SMB", "medium"), ("Enterprise", "high"), ("Agencies", "high")):
        await post(client, "/v1/segments", org.headers, {"name": name, "priority": priority})
    for name, share in (("Small", "5"), ("Unknown", None), ("Leader", "45.5"), ("Second", "30")):
        await post(client, "/v1/competitors", org.headers, {"name": name, "estimated_share_pct": share})

    body = (await client.get("/v1/market-analysis", headers=org.headers)).json()

    assert [s["name"] for s in body["segments"]] == ["Agencies", "Enterprise", "SMB", "Consumers"]
    assert [c["name"] for c in body["competitors"]] == ["Leader", "Second", "Small", "Unknown"]
    assert (body["segment_count"], body["competitor_count"]) == (4, 4)
    assert body["total_estimated_share_pct"] == "80.50"
    assert body["warnings"] == []

    await post(client, "/v1/competitors", org.headers, {"name": "Newcomer", "estimated_share_pct": "20"})
    body = (await client.get("/v1/market-analysis", headers=org.headers)).json()
    assert body["total_estimated_share_pct"] == "100.50"
    assert body["warnings"] == ["Competitors' estimated shares add up to 100.50%, more than 100%."]

    theirs = (await client.get("/v1/market-analysis", headers=other_org.headers)).json()
    assert theirs == {
        "segments": [],
        "competitors": [],
        "segment_count": 0,
        "competitor_count": 0,
        "total_estimated_share_pct": "0.00",
        "warnings": [],
    }


async def test_competitors_filter_by_name_and_minimum_share(client, org, other_org):
    for name, share in (("ShopFast", "18.5"), ("Fast Fashion_Co", "10"), ("MegaMart", None), ("Boutique 100%", "2")):
        await post(
            client, "/v1/competitors", org.headers, {"name": name} | ({"estimated_share_pct": share} if share else {})
        )
    await post(client, "/v1/competitors", other_org.headers, {"name": "FastTrack", "estimated_share_pct": "50"})
    path = "/v1/competitors"
    assert await names(client, path, org.headers, q="FAST") == ["ShopFast", "Fast Fashion_Co"]
    assert await names(client, path, org.headers, min_share="10") == ["ShopFast", "Fast Fashion_Co"]
    assert await names(client, path, org.headers, q="fast", min_share="10.01") == ["ShopFast"]
    # `%` and `_` are plain characters, not wildcards.
    assert await names(client, path, org.headers, q="100%") == ["Boutique 100%"]
    assert await names(client, path, org.headers, q="n_c") == ["Fast Fashion_Co"]
    assert await names(client, path, org.headers, q="p_a") == []  # would match "shopfast" as a wildcard
    for bad in ({"min_share": "101"}, {"min_share": "-1"}, {"min_share": "lots"}, {"q": ""}):
        r = await client.get(path, params=bad, headers=org.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, bad


async def test_segments_filter_by_name_too(client, org):
    for name in ("Mid-size retailers in DACH", "Retail chains", "Agencies"):
        await post(client, "/v1/segments", org.headers, {"name": name})
    assert await names(client, "/v1/segments", org.headers, q="retail") == [
        "Mid-size retailers in DACH",
        "Retail chains",
    ]
    assert await names(client, "/v1/segments", org.headers, q="retail", priority="high") == []
