"""The budget report with pacing: the JSON/CSV report and the dashboard's budget bars both read this."""

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.plans.budgets import service as budget_service
from services.api.reports.schemas import BudgetReportOut
from shared.orgs.clock import session_today
from shared.plans.models import Plan
from shared.plans.pacing import pace


async def budget_report(session: AsyncSession, *, plan_id: uuid.UUID, today: date | None = None) -> BudgetReportOut:
    """Planned vs actual per line, channel and in total, and pacing: the share of the budget spent against the
    share of the plan's period elapsed by `today` (default the organisation's today; above 0: spending ahead of
    time)."""
    plan = await get_or_404(session, Plan, plan_id)
    report = await budget_service.report(session, plan_id=plan_id)
    today = today or await session_today(session)
    paced = pace(total=report.total, actual=report.totals.actual, start=plan.start_date, end=plan.end_date, today=today)
    return BudgetReportOut(
        **report.model_dump(),
        elapsed_share=paced.elapsed_share,
        spent_share=paced.spent_share,
        pacing=paced.pacing,
    )
