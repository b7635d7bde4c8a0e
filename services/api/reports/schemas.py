"""Response bodies of the reports."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from services.api.department.schemas import DepartmentOut, OverviewTotals, TeamNode
from services.api.kpis.values.schemas import KpiProgress
from services.api.plans.budgets.schemas import BudgetReport
from services.api.schemas import Id, Number, Output, Timestamp
from services.api.strategy.schemas import SmartOut
from shared.alerts.models import AlertStatus, Severity
from shared.strategy.models import ObjectiveStatus


class ScorecardRow(Output):
    kpi_id: Id
    name: str = Field(examples=["CPA"])
    category: str = Field(examples=["output"])
    unit: str = Field(examples=["currency"])
    currency: str | None = Field(
        default=None, description="Money KPIs: the reporting currency their numbers are in", examples=["VND"]
    )
    direction: str = Field(examples=["lower_is_better"])
    owner_team_id: uuid.UUID | None
    owner_team: str | None = Field(examples=["Paid media"])
    target_id: Id
    period: str = Field(examples=["2026-11"])
    target_value: Number
    value: Number | None
    expected_to_date: Number | None
    forecast: Number | None
    attainment_pct: Number | None
    status: str | None = Field(examples=["at_risk"])
    reason: str = Field(
        default="",
        description="The status in one sentence (for `no_data` it says why: no data yet, or which exchange rate "
        "is missing)",
        examples=["CPA is above the warning level 20 expected by day 20 of 30"],
    )
    provisional: bool
    evaluated_at: datetime | None = Field(description="null: not evaluated yet; the numbers are computed live")
    previous_value: Number | None = Field(
        description="The KPI over the same span of the period before the target's: the whole previous period "
        "when `value` covers the whole target period, else as many days from its start as `value` covers "
        "(see previous_from / previous_to); null when there is no data or the target has not started"
    )
    previous_from: date | None = Field(examples=["2026-10-01"], description="First day `previous_value` covers")
    previous_to: date | None = Field(examples=["2026-10-20"], description="Last day `previous_value` covers")
    change_pct: Number | None = Field(examples=["-4.2"])


class ScorecardGroup(Output):
    category: str = Field(examples=["input"])
    kpis: list[ScorecardRow]


class Scorecard(Output):
    period: str = Field(examples=["2026-11"])
    start: date
    end: date
    groups: list[ScorecardGroup]


class BudgetReportOut(BudgetReport):
    elapsed_share: Decimal = Field(examples=["0.9333"], description="Share of the plan's period elapsed")
    spent_share: Decimal | None = Field(examples=["0.8810"], description="actual ÷ budget total")
    pacing: Decimal | None = Field(
        examples=["-0.0523"], description="spent_share − elapsed_share: above 0 spends ahead of time"
    )


# --- the department report ---------------------------------------------------------------------------


class GoalRef(Output):
    id: Id
    title: str = Field(examples=["Grow online revenue 30% in 2027"])


class KpiRef(Output):
    id: Id
    name: str = Field(examples=["CPA"])


class ReportObjective(Output):
    id: Id
    statement: str = Field(examples=["Raise monthly online orders from returning customers to 12,000"])
    status: ObjectiveStatus
    owner_team_id: uuid.UUID | None
    start_date: date | None
    deadline: date | None = Field(examples=["2027-12-31"])
    business_goal: GoalRef | None = Field(description="null: it serves no business goal")
    smart: SmartOut = Field(description="As `GET /v1/objectives/{id}` returns it: judged as of today")
    progress_pct: Number | None = Field(
        examples=["82.5"],
        description="Weighted mean of the KPIs' attainment as of `as_of`, each capped at 100% "
        "(as `GET /v1/objectives/{id}/progress`); null while no linked KPI has a target and data",
    )
    kpis: list[KpiProgress] = Field(description="The linked KPIs, each against its target for the period of as_of")


class ReportAlert(Output):
    id: Id
    kpi: KpiRef
    target_id: Id
    severity: Severity = Field(examples=["critical"])
    status: AlertStatus = Field(examples=["open"])
    reason: str = Field(examples=["CPA 52.10 has been above the critical level 50 for 2 evaluations"])
    last_value: Number | None
    period_label: str | None = Field(examples=["2026-11"])
    opened_at: Timestamp
    acknowledged_at: Timestamp | None


class ReportSummary(Output):
    objectives: int = Field(examples=[12])
    objectives_by_smart: dict[str, int] = Field(
        examples=[{"pass": 7, "warn": 4, "fail": 1}], description="By overall SMART verdict (the worst letter)"
    )
    kpis: int = Field(examples=[30])
    kpis_by_status: dict[str, int] = Field(
        examples=[{"on_track": 18, "at_risk": 4, "off_track": 2, "no_data": 1, "unconfirmed": 2, "no_target": 3}],
        description="Each KPI by the confirmed status (the one alerts follow) of its target for the period "
        "containing as_of; `unconfirmed`: a target not evaluated yet or whose first status is still pending; "
        "`no_target`: no target for that period",
    )
    open_alerts_by_severity: dict[str, int] = Field(examples=[{"warning": 3, "critical": 2, "no_data": 1}])


class DepartmentReport(Output):
    as_of: date = Field(examples=["2026-11-20"])
    department: DepartmentOut | None = Field(description="null until the department is set up (PUT /v1/department)")
    teams: list[TeamNode] = Field(description="The team tree with headcounts, as `GET /v1/department/overview`")
    team_totals: OverviewTotals
    objectives: list[ReportObjective] = Field(description="Every objective, oldest first")
    open_alerts: list[ReportAlert] = Field(description="Open and acknowledged alerts, newest first; at most 100")
    open_alerts_total: int = Field(examples=[6], description="All open and acknowledged alerts")
    summary: ReportSummary
