"""A plan's budget: total and currency, allocation lines that never add up to more than the total
(also under concurrent requests), reallocations with their trail, and the planned-vs-actual report."""

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.pagination import PageParams, fetch_page
from services.api.plans.budgets.schemas import (
    BudgetLineCreate,
    BudgetLineUpdate,
    BudgetPut,
    BudgetReport,
    ReallocationCreate,
    ReportChannel,
    ReportLine,
    ReportRow,
)
from services.api.plans.service import ensure_open
from services.api.problems import Conflict, NotFound, Unprocessable
from shared.department.models import Team
from shared.jobs.handles import CHECK_OVERSPEND
from shared.money.currencies import has_minor_units, minor_units
from shared.money.fx import MissingRate
from shared.numbers import two_places
from shared.plans.actuals import ingested_by_line
from shared.plans.models import Budget, BudgetLine, BudgetReallocation, Campaign, Plan
from shared.plans.pacing import total_actual

CENT = Decimal("0.01")
# How many reallocations a refused line deletion names.
NAMED_IN_CONFLICT = 10


async def get_budget(session: AsyncSession, *, plan_id: uuid.UUID) -> Budget:
    await get_or_404(session, Plan, plan_id)
    budget = await session.scalar(select(Budget).where(Budget.plan_id == plan_id))
    if budget is None:
        raise NotFound(f"Plan {plan_id} has no budget yet; PUT one first.")
    return budget


async def lock_budget(session: AsyncSession, budget: Budget) -> None:
    """Serialise every change to this budget's lines: the UPDATE takes the row lock on Postgres (and the
    write lock on SQLite) before the sum is read, so two requests cannot both see room for their line."""
    await session.execute(
        update(Budget).where(Budget.id == budget.id).values(version=Budget.version + 1),
        execution_options={"synchronize_session": False},
    )
    await session.refresh(budget)  # the total as of the lock, not as first read


async def allocated(session: AsyncSession, budget_id: uuid.UUID) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(BudgetLine.planned_amount), 0)).where(BudgetLine.budget_id == budget_id)
    )
    return Decimal(total or 0).quantize(CENT)


def _refuse_overshoot(budget: Budget, allocated_after: Decimal) -> None:
    if allocated_after > budget.total:
        overshoot = allocated_after - budget.total
        raise Conflict(
            f"The lines would add up to {two_places(allocated_after)} {budget.currency}, "
            f"{two_places(overshoot)} over the budget total of {two_places(budget.total)}.",
            overshoot=two_places(overshoot),
            total=two_places(budget.total),
            allocated_after=two_places(allocated_after),
        )


async def budget_summary(session: AsyncSession, budget: Budget) -> dict:
    spent = await allocated(session, budget.id)
    return {
        "id": budget.id,
        "plan_id": budget.plan_id,
        "total": budget.total,
        "currency": budget.currency,
        "allocated": spent,
        "unallocated": budget.total - spent,
        "updated_at": budget.updated_at,
    }


def check_minor_units(currency: str, **amounts: Decimal | None) -> None:
    """422 naming each amount written in finer units than its currency has (0.5 VND, 0.001 USD)."""
    places = minor_units(currency)
    errors = [
        {
            "location": f"body.{name}",
            "message": f"{currency} amounts have {places or 'no'} decimal place{'' if places == 1 else 's'}: "
            f"{amount} is not a whole number of its minor unit",
            "type": "minor_units",
        }
        for name, amount in amounts.items()
        if amount is not None and not has_minor_units(amount, currency)
    ]
    if errors:
        raise Unprocessable(f"{errors[0]['location']}: {errors[0]['message']}", errors=errors)


async def put_budget(session: AsyncSession, *, plan_id: uuid.UUID, body: BudgetPut) -> Budget:
    """Set the plan's budget total and currency; the total may not drop below what is allocated."""
    check_minor_units(body.currency, total=body.total)
    plan = await get_or_404(session, Plan, plan_id)
    ensure_open(plan)
    budget = await session.scalar(select(Budget).where(Budget.plan_id == plan_id))
    if budget is None:
        budget = Budget(plan_id=plan.id, total=body.total, currency=body.currency)
        session.add(budget)
        await session.flush()
        return budget
    await lock_budget(session, budget)
    current = await allocated(session, budget.id)
    if body.currency != budget.currency and current > 0:
        raise Conflict(f"The budget has {budget.currency} allocations; its currency cannot change to {body.currency}.")
    if body.total < current:
        raise Conflict(
            f"The lines already allocate {two_places(current)} {budget.currency}; the total cannot drop to "
            f"{two_places(body.total)} ({two_places(current - body.total)} short). Reduce or reallocate lines first.",
            overshoot=two_places(current - body.total),
            allocated=two_places(current),
        )
    budget.total, budget.currency = body.total, body.currency
    await session.flush()
    return budget


async def _check_line_refs(session: AsyncSession, plan_id: uuid.UUID, team_id, campaign_id) -> None:
    await require_refs(session, {"team_id": (Team, team_id), "campaign_id": (Campaign, campaign_id)})
    if campaign_id is not None:
        campaign_plan = await session.scalar(select(Campaign.plan_id).where(Campaign.id == campaign_id))
        if campaign_plan != plan_id:
            raise Unprocessable(
                f"body.campaign_id: campaign {campaign_id} belongs to another plan",
                errors=[{"location": "body.campaign_id", "message": "campaign of another plan"}],
            )


async def add_line(session: AsyncSession, *, plan_id: uuid.UUID, body: BudgetLineCreate) -> BudgetLine:
    """Allocate part of the budget; refused (409, with the overshoot) past the total."""
    budget = await get_budget(session, plan_id=plan_id)
    ensure_open(await get_or_404(session, Plan, plan_id))
    await _check_line_refs(session, plan_id, body.team_id, body.campaign_id)
    check_minor_units(budget.currency, planned_amount=body.planned_amount, actual_amount=body.actual_amount)
    await lock_budget(session, budget)
    _refuse_overshoot(budget, await allocated(session, budget.id) + body.planned_amount)
    line = BudgetLine(budget_id=budget.id, **body.model_dump())
    session.add(line)
    await session.flush()
    return line


async def _spent(session: AsyncSession, plan_id: uuid.UUID, line: BudgetLine) -> Decimal:
    """A line's actual spend as the report counts it: entered by hand plus the ingested `spend` metric (in the
    budget's currency); a 409 when some day's spend cannot be converted yet (what moves must be known)."""
    ingested = (await ingested_by_line(session, plan_id=plan_id, lines=[line]))[line.id]
    if isinstance(ingested, MissingRate):
        raise Conflict(
            f"Budget line {line.id}'s spend cannot be converted into the budget's currency: {ingested}.",
            missing_rate={"from": ingested.base, "to": ingested.quote, "day": ingested.day.isoformat()},
        )
    return line.actual_amount + ingested


async def _locked_line(session: AsyncSession, *, plan_id: uuid.UUID, line_id: uuid.UUID) -> tuple[Budget, BudgetLine]:
    """Take the budget's lock, then read the line as it is now: a change that committed while this request
    waited for the lock (a reallocation, recorded spend) is what the checks below must see, not the line as
    it was before. Every change to a line goes through here."""
    budget = await get_budget(session, plan_id=plan_id)
    await lock_budget(session, budget)
    line = await session.scalar(
        select(BudgetLine)
        .where(BudgetLine.id == line_id, BudgetLine.budget_id == budget.id)
        .execution_options(populate_existing=True)
    )
    if line is None:
        raise NotFound(f"No budget line {line_id} in plan {plan_id}.")
    return budget, line


async def list_lines(
    session: AsyncSession, *, plan_id: uuid.UUID, page: PageParams, channel: str | None, team_id, campaign_id
):
    """The budget's lines, oldest first, filtered."""
    budget = await get_budget(session, plan_id=plan_id)
    stmt = select(BudgetLine).where(BudgetLine.budget_id == budget.id)
    if channel is not None:
        stmt = stmt.where(BudgetLine.channel == channel)
    if team_id is not None:
        stmt = stmt.where(BudgetLine.team_id == team_id)
    if campaign_id is not None:
        stmt = stmt.where(BudgetLine.campaign_id == campaign_id)
    return await fetch_page(session, stmt, BudgetLine.id, page)


async def update_line(
    session: AsyncSession, *, plan_id: uuid.UUID, line_id: uuid.UUID, body: BudgetLineUpdate
) -> BudgetLine:
    """Change a line. Planned amounts respect the total; actual spend can be recorded even on a closed plan."""
    changes = body.changes()
    if set(changes) - {"actual_amount"}:
        ensure_open(await get_or_404(session, Plan, plan_id))
    await _check_line_refs(session, plan_id, changes.get("team_id"), changes.get("campaign_id"))
    # Recorded spend is locked too: a reallocation judges "unspent" from it.
    budget, line = await _locked_line(session, plan_id=plan_id, line_id=line_id)
    check_minor_units(
        budget.currency, planned_amount=changes.get("planned_amount"), actual_amount=changes.get("actual_amount")
    )
    dims = {k: changes.get(k, getattr(line, k)) for k in ("channel", "team_id", "campaign_id")}
    if all(v is None for v in dims.values()):
        raise Unprocessable("a budget line needs a channel, a team_id or a campaign_id")
    if "planned_amount" in changes:
        others = await allocated(session, budget.id) - line.planned_amount
        _refuse_overshoot(budget, others + changes["planned_amount"])
    apply_changes(line, changes)
    await session.flush()
    if "actual_amount" in changes:
        CHECK_OVERSPEND.defer(session, org_id=str(budget.org_id))
    return line


async def delete_line(session: AsyncSession, *, plan_id: uuid.UUID, line_id: uuid.UUID) -> None:
    """Delete a line with no recorded spend that no reallocation names (its money returns to unallocated)."""
    ensure_open(await get_or_404(session, Plan, plan_id))
    budget, line = await _locked_line(session, plan_id=plan_id, line_id=line_id)
    spent = await _spent(session, plan_id, line)
    if spent > 0:
        raise Conflict(
            f"Budget line {line.id} has {two_places(spent)} {budget.currency} of recorded spend; "
            "reallocate its unspent money instead of deleting it.",
            spent=two_places(spent),
        )
    await _refuse_if_in_trail(session, line)
    await session.delete(line)
    await session.flush()


async def _refuse_if_in_trail(session: AsyncSession, line: BudgetLine) -> None:
    """409 naming the reallocations from or to the line: deleting it would blank their from/to (ON DELETE SET
    NULL), and the trail must keep where money went. One query."""
    moves = (
        await session.scalars(
            select(BudgetReallocation.id)
            .where(
                BudgetReallocation.budget_id == line.budget_id,  # indexed; from/to are not
                (BudgetReallocation.from_line_id == line.id) | (BudgetReallocation.to_line_id == line.id),
            )
            .order_by(BudgetReallocation.id)
        )
    ).all()
    if moves:
        shown = ", ".join(str(m) for m in moves[:NAMED_IN_CONFLICT])
        more = f" and {len(moves) - NAMED_IN_CONFLICT} more" if len(moves) > NAMED_IN_CONFLICT else ""
        raise Conflict(
            f"Budget line {line.id} is named by {len(moves)} reallocation(s) of the trail ({shown}{more}); a line "
            "money moved from or to is kept so the trail stays whole. Reallocate its money to another line instead.",
            referenced_by={"reallocations": len(moves)},
            reallocations=[str(m) for m in moves[:NAMED_IN_CONFLICT]],
        )


async def reallocate(session: AsyncSession, *, plan_id: uuid.UUID, body: ReallocationCreate, by_key_id: uuid.UUID):
    """Move unspent planned money between two lines of the budget, in one step, with a trail."""
    budget = await get_budget(session, plan_id=plan_id)
    ensure_open(await get_or_404(session, Plan, plan_id))
    check_minor_units(budget.currency, amount=body.amount)
    await lock_budget(session, budget)
    lines = {
        line.id: line
        for line in await session.scalars(
            select(BudgetLine)
            .where(BudgetLine.id.in_([body.from_line_id, body.to_line_id]), BudgetLine.budget_id == budget.id)
            .execution_options(populate_existing=True)
        )
    }
    missing = [f for f, i in (("from_line_id", body.from_line_id), ("to_line_id", body.to_line_id)) if i not in lines]
    if missing:
        raise Unprocessable(
            f"body.{missing[0]}: no such line in this plan's budget",
            errors=[{"location": f"body.{f}", "message": "no such line in this plan's budget"} for f in missing],
        )
    source, target = lines[body.from_line_id], lines[body.to_line_id]
    spent = await _spent(session, plan_id, source)
    unspent = source.planned_amount - spent
    if body.amount > unspent:
        raise Conflict(
            f"Only unspent money can move: line {source.id} has {two_places(source.planned_amount)} planned and "
            f"{two_places(spent)} spent, so at most {two_places(max(unspent, Decimal(0)))} {budget.currency}.",
            available=two_places(max(unspent, Decimal(0))),
            spent=two_places(spent),
        )
    source.planned_amount -= body.amount
    target.planned_amount += body.amount
    move = BudgetReallocation(
        budget_id=budget.id,
        from_line_id=source.id,
        to_line_id=target.id,
        amount=body.amount,
        reason=body.reason,
        by_key_id=by_key_id,
    )
    session.add(move)
    await session.flush()
    return move


async def list_reallocations(session: AsyncSession, *, plan_id: uuid.UUID, page: PageParams, line_id: uuid.UUID | None):
    """The budget's reallocation trail, oldest first; optionally those touching one line."""
    budget = await get_budget(session, plan_id=plan_id)
    stmt = select(BudgetReallocation).where(BudgetReallocation.budget_id == budget.id)
    if line_id is not None:
        stmt = stmt.where((BudgetReallocation.from_line_id == line_id) | (BudgetReallocation.to_line_id == line_id))
    return await fetch_page(session, stmt, BudgetReallocation.id, page)


def _row(planned: Decimal, actual: Decimal | None) -> dict:
    """A report row; `actual` None: some of it is spend that cannot be converted yet (never a partial sum)."""
    if actual is None:
        return {"planned": planned, "actual": None, "variance": None, "utilisation": None}
    utilisation = (actual / planned).quantize(Decimal("0.0001"), ROUND_HALF_UP) if planned else None
    return {"planned": planned, "actual": actual, "variance": planned - actual, "utilisation": utilisation}


def _plus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a + b


def line_figures(line: BudgetLine, ingested: Decimal | MissingRate) -> dict:
    """A line's ingested spend and actual (manual + ingested), or why they are unknown."""
    if isinstance(ingested, MissingRate):
        return {"ingested_spend": None, "actual": None, "unconverted": str(ingested)}
    return {"ingested_spend": ingested, "actual": line.actual_amount + ingested, "unconverted": None}


async def report(session: AsyncSession, *, plan_id: uuid.UUID) -> BudgetReport:
    """Planned, actual (manual + ingested spend), variance and utilisation per line, per channel and in total."""
    budget = await get_budget(session, plan_id=plan_id)
    lines = (
        await session.scalars(select(BudgetLine).where(BudgetLine.budget_id == budget.id).order_by(BudgetLine.id))
    ).all()
    ingested = await ingested_by_line(session, plan_id=plan_id, lines=list(lines))
    figures = {line.id: line_figures(line, ingested[line.id]) for line in lines}
    by_channel: dict[str | None, list] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in lines:
        by_channel[line.channel][0] += line.planned_amount
        by_channel[line.channel][1] = _plus(by_channel[line.channel][1], figures[line.id]["actual"])
    planned = sum((line.planned_amount for line in lines), Decimal(0))
    actual = total_actual(lines, ingested)
    return BudgetReport(
        plan_id=plan_id,
        currency=budget.currency,
        total=budget.total,
        unallocated=budget.total - planned,
        totals=ReportRow(**_row(planned, actual)),
        lines=[
            ReportLine(
                line_id=line.id,
                name=line.name,
                channel=line.channel,
                team_id=line.team_id,
                campaign_id=line.campaign_id,
                manual_actual=line.actual_amount,
                ingested_spend=figures[line.id]["ingested_spend"],
                ingested_as_reported=ingested.as_reported.get(line.id, {}),
                unconverted=figures[line.id]["unconverted"],
                **_row(line.planned_amount, figures[line.id]["actual"]),
            )
            for line in lines
        ],
        by_channel=[
            ReportChannel(channel=channel, **_row(p, a))
            for channel, (p, a) in sorted(by_channel.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ],
    )
