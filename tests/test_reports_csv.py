"""CSV exports open safely in a spreadsheet: names that look like formulas come back as text (OWASP CSV
injection), numbers still parse as numbers, and the budget CSV carries every number the JSON report has."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from services.api.reports.csv_export import csv_cell
from tests.kpi_support import put_daily
from tests.test_reports import leads_target, record_evaluation

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def as_decimal(cell: str) -> Decimal | None:
    return None if cell == "" else Decimal(cell)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Leads - paid", "Leads - paid"),
        ("", ""),
        (None, ""),
        (Decimal("-12.50"), "-12.5"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_text_that_would_run_as_a_formula_gets_an_apostrophe_and_numbers_do_not(value, cell):
    assert csv_cell(value) == cell


async def test_scorecard_csv_shows_formula_like_kpi_and_team_names_as_text(client, keys, state, org):
    team = (await client.post("/v1/teams", json={"name": "@SUM(1+1)"}, headers=org.headers)).json()
    by_api = FORMULAS[:4]
    for name in by_api:
        kpi = await client.post(
            "/v1/kpis",
            json={
                "name": name,
                "category": "output",
                "formula": "leads",
                "unit": "count",
                "direction": "higher_is_better",
                "owner_team_id": team["id"],
            },
            headers=org.headers,
        )
        assert kpi.status_code == 201, kpi.text
        target = {"period": "2026-11", "target_value": "-40.5", "pacing": "none"}
        r = await client.post(f"/v1/kpis/{kpi.json()['id']}/targets", json=target, headers=org.headers)
        assert r.status_code == 201, r.text
    # The API strips leading whitespace from names; rows written by other means may still carry it.
    for name in FORMULAS[4:]:
        await leads_target(state, org.id, name, date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    kpi_id, target_id = await leads_target(state, org.id, "Margin", date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    await record_evaluation(
        state, org.id, kpi_id, target_id, value=Decimal("-12.5"), attainment_pct=Decimal("-3"), status="off_track"
    )
    await put_daily(state, org.id, "leads", date(2026, 10, 1), [-25])

    r = await client.get(
        "/v1/reports/scorecard?period=2026-11", headers={**keys.headers("viewer"), "Accept": "text/csv"}
    )
    assert r.status_code == 200
    rows = {row["kpi_id"]: row for row in parse(r.text)}
    names = sorted(row["name"] for row in rows.values())
    assert names == sorted(["Margin"] + ["'" + name for name in FORMULAS])
    from_api = [row for row in rows.values() if row["name"][1:] in by_api]
    assert {(row["owner_team"], as_decimal(row["target_value"])) for row in from_api} == {
        ("'@SUM(1+1)", Decimal("-40.5"))
    }
    margin = rows[str(kpi_id)]
    assert [as_decimal(margin[c]) for c in ("value", "attainment_pct", "previous_value", "change_pct")] == [
        Decimal("-12.5"),
        Decimal("-3"),
        Decimal("-25"),
        Decimal("50"),
    ]


async def test_budget_csv_has_the_lines_channels_total_and_pacing_of_the_json(client, keys, org):
    h = org.headers
    team = (await client.post("/v1/teams", json={"name": "Content"}, headers=h)).json()
    plan = (await client.post("/v1/plans", json={"name": "Nov", "period_label": "2026-11"}, headers=h)).json()
    assert (
        await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": "2000", "currency": "EUR"}, headers=h)
    ).status_code == 200
    lines = [
        {"name": '=HYPERLINK("http://evil","x")', "channel": "meta", "planned_amount": "600", "actual_amount": "450"},
        {"name": "@SUM(1+1)", "channel": "meta", "planned_amount": "200", "actual_amount": "300.50"},
        {"name": "Search", "channel": "google_ads", "planned_amount": "500", "actual_amount": "100"},
        {"name": "-Writers", "team_id": team["id"], "planned_amount": "100"},
    ]
    for line in lines:
        r = await client.post(f"/v1/plans/{plan['id']}/budget/lines", json=line, headers=h)
        assert r.status_code == 201, r.text
    url = f"/v1/reports/budget?plan_id={plan['id']}"
    report = (await client.get(url, headers=keys.headers("viewer"))).json()
    r = await client.get(url, headers={**keys.headers("viewer"), "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = parse(r.text)
    assert [row["row_type"] for row in rows] == ["line"] * 4 + ["channel"] * 3 + ["total"]
    assert {row["currency"] for row in rows} == {"EUR"}

    def numbers(row: dict, columns) -> list:
        return [None if row.get(c) in (None, "") else Decimal(str(row[c])) for c in columns]

    figures = ("planned", "actual", "variance", "utilisation")
    by_id = {row["line_id"]: row for row in rows if row["row_type"] == "line"}
    for line in report["lines"]:
        row = by_id[line["line_id"]]
        columns = (*figures, "manual_actual", "ingested_spend")
        assert numbers(row, columns) == numbers(line, columns), line["name"]
        assert row["channel"] == (line["channel"] or "") and row["team_id"] == (line["team_id"] or "")
        expected = "'" + line["name"] if line["name"][0] in "=+-@" else line["name"]
        assert row["name"] == expected
    assert by_id[next(li["line_id"] for li in report["lines"] if li["name"] == "@SUM(1+1)")]["variance"] == "-100.5"

    channels = {row["channel"]: row for row in rows if row["row_type"] == "channel"}
    assert set(channels) == {c["channel"] or "" for c in report["by_channel"]} == {"meta", "google_ads", ""}
    for channel in report["by_channel"]:
        assert numbers(channels[channel["channel"] or ""], figures) == numbers(channel, figures)
    assert numbers(channels["meta"], ("planned", "actual", "variance")) == [
        Decimal(800),
        Decimal("750.5"),
        Decimal("49.5"),
    ]

    [total] = [row for row in rows if row["row_type"] == "total"]
    assert numbers(total, figures) == numbers(report["totals"], figures)
    shares = ("elapsed_share", "spent_share", "pacing")
    assert numbers(total, shares) == numbers(report, shares)
    assert numbers(total, ("budget_total", "unallocated")) == numbers(report, ("total", "unallocated"))
    assert all(row[c] == "" for row in rows if row["row_type"] != "total" for c in shares)
