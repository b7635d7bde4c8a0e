"""budget.overspend: when a line's actual (manual + ingested spend) passes its allocation, once per line."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from shared.jobs.context import job_session
from shared.jobs.registry import job
from shared.plans.actuals import ingested_by_line
from shared.plans.models import Budget, BudgetLine, Plan
from shared.webhooks.events import emit
from shared.webhooks.models import EventType

OVERSPEND_JOB = "budgets.check_overspend"


@job(name=OVERSPEND_JOB, max_tries=3)
async def check_overspend(ctx, *, org_id: str) -> int:
    """Emit one budget.overspend per line whose actual passed OVERSPEND_THRESHOLD_PCT of its planned amount."""
    settings = ctx["settings"]
    today = datetime.now(UTC).date()
    async with job_session(ctx) as session:
        rows = (
            await session.execute(
                select(BudgetLine, Budget, Plan)
                .join(Budget, Budget.id == BudgetLine.budget_id)
                .join(Plan, Plan.id == Budget.plan_id)
                .where(
                    Plan.org_id == uuid.UUID(org_id),
                    Plan.start_date <= today,
                    BudgetLine.overspend_notified_at.is_(None),
                    BudgetLine.planned_amount > 0,
                )
            )
        ).all()
        by_plan: dict[uuid.UUID, list] = {}
        for line, budget, plan in rows:
            by_plan.setdefault(plan.id, []).append((line, budget, plan))
        fired = 0
        limit_factor = Decimal(str(settings.overspend_threshold_pct)) / 100
        for plan_id, entries in by_plan.items():
            ingested = await ingested_by_line(session, plan_id=plan_id, lines=[line for line, _, _ in entries])
            for line, budget, plan in entries:
                actual = line.actual_amount + ingested[line.id]
                if actual <= line.planned_amount * limit_factor:
                    continue
                line.overspend_notified_at = datetime.now(UTC)
                fired += 1
                await emit(
                    session,
                    org_id=plan.org_id,
                    type_=EventType.budget_overspend,
                    data={
                        "plan": {"id": str(plan.id), "name": plan.name, "period": plan.period_label},
                        "line": {
                            "id": str(line.id),
                            "name": line.name,
                            "channel": line.channel,
                            "team_id": str(line.team_id) if line.team_id else None,
                            "campaign_id": str(line.campaign_id) if line.campaign_id else None,
                        },
                        "planned": str(line.planned_amount),
                        "actual": str(actual),
                        "overspend": str(actual - line.planned_amount),
                        "currency": budget.currency,
                        "threshold_pct": settings.overspend_threshold_pct,
                        "dashboard_url": f"{settings.public_base_url}/dashboard",
                    },
                )
        return fired
