"""A budget line's actual spend from ingested data: used by the budget report (API) and the overspend check
(worker)."""

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.metrics.queries import SpendQuery, ingested_spend
from shared.money.currencies import round_money
from shared.money.fx import MissingRate
from shared.plans.models import Budget, BudgetLine, Campaign, Plan


class LineSpend(dict[uuid.UUID, Decimal | MissingRate]):
    """Each line's ingested spend in its budget's currency (or why it cannot be converted), and `as_reported`: the
    same spend per currency as the platforms reported it, before conversion."""

    def __init__(
        self, amounts: dict[uuid.UUID, Decimal | MissingRate], as_reported: dict[uuid.UUID, dict[str, Decimal]]
    ) -> None:
        super().__init__(amounts)
        self.as_reported = as_reported


async def ingested_by_line(session: AsyncSession, *, plan_id: uuid.UUID, lines: list[BudgetLine]) -> LineSpend:
    """Each line's ingested spend over its plan's period (see `ingested_by_lines`)."""
    if not lines:
        return LineSpend({}, {})
    plan = await session.get_one(Plan, plan_id)
    return await ingested_by_lines(session, [(plan, line) for line in lines])


async def ingested_by_lines(session: AsyncSession, entries: list[tuple[Plan, BudgetLine]]) -> LineSpend:
    """Each line's ingested spend over its plan's period, matched by the line's channel and its campaign's
    tracking code (a team-only line, or a campaign without a tracking code, matches nothing), converted into its
    budget's currency at each day's rate and rounded to that currency's minor unit (a `MissingRate` where a day
    cannot be converted). Lines of any number of plans and organisations in a fixed number of queries."""
    if not entries:
        return LineSpend({}, {})
    campaign_ids = {line.campaign_id for _, line in entries if line.campaign_id}
    codes = dict(
        (await session.execute(select(Campaign.id, Campaign.tracking_code).where(Campaign.id.in_(campaign_ids)))).all()
        if campaign_ids
        else []
    )
    budget_ids = {line.budget_id for _, line in entries}
    currencies = dict(
        (await session.execute(select(Budget.id, Budget.currency).where(Budget.id.in_(budget_ids)))).all()
    )
    queries = [
        SpendQuery(plan.org_id, plan.start_date, plan.end_date, _matcher(line, codes), currencies[line.budget_id])
        for plan, line in entries
    ]
    spend = await ingested_spend(session, queries)
    return LineSpend(
        {
            line.id: amount if isinstance(amount, MissingRate) else round_money(amount, currencies[line.budget_id])
            for (_, line), (amount, _) in zip(entries, spend, strict=True)
        },
        {line.id: reported for (_, line), (_, reported) in zip(entries, spend, strict=True)},
    )


def _matcher(line: BudgetLine, codes: dict[uuid.UUID, str | None]) -> dict[str, str] | None:
    matcher = {"channel": line.channel} if line.channel else {}
    if line.campaign_id:
        code = codes.get(line.campaign_id)
        if not code:
            return None
        matcher["campaign"] = code
    return matcher or None
