"""A budget line's actual spend from ingested data: used by the budget report (API) and the overspend check
(worker)."""

import uuid
from decimal import Decimal

from sqlalchemy import select

from shared.kpis.compute import ingested_spend
from shared.plans.models import BudgetLine, Campaign, Plan

CENT = Decimal("0.01")


async def ingested_by_line(session, *, plan_id: uuid.UUID, lines: list[BudgetLine]) -> dict[uuid.UUID, Decimal]:
    """Each line's ingested spend over its plan's period, matched by the line's channel and its campaign's
    tracking code (a team-only line, or a campaign without a tracking code, matches nothing). Three queries."""
    if not lines:
        return {}
    plan = await session.get(Plan, plan_id)
    campaign_ids = {line.campaign_id for line in lines if line.campaign_id}
    codes = dict(
        (await session.execute(select(Campaign.id, Campaign.tracking_code).where(Campaign.id.in_(campaign_ids)))).all()
        if campaign_ids
        else []
    )
    matchers = []
    for line in lines:
        matcher = {"channel": line.channel} if line.channel else {}
        if line.campaign_id:
            if not codes.get(line.campaign_id):
                matchers.append(None)
                continue
            matcher["campaign"] = codes[line.campaign_id]
        matchers.append(matcher or None)
    spend = await ingested_spend(session, plan.org_id, plan.start_date, plan.end_date, matchers)
    return {line.id: amount.quantize(CENT) for line, amount in zip(lines, spend, strict=True)}
