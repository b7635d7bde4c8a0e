"""Plans and their campaigns: period checks and the status lifecycle draft → approved → active → closed."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404, refuse_if_referenced, require_refs
from services.api.pagination import PageParams, fetch_page
from services.api.plans.schemas import CampaignCreate, CampaignUpdate, PlanCreate, PlanUpdate
from services.api.problems import Conflict, NotFound, Unprocessable
from services.api.schemas import check_date_order
from shared.department.models import Team
from shared.periods import parse_period
from shared.plans.models import BudgetLine, Campaign, Plan, PlanStatus
from shared.strategy.models import Objective

# Each status may move only to the next one; anything else is a 409.
NEXT_STATUS = {
    PlanStatus.draft: PlanStatus.approved,
    PlanStatus.approved: PlanStatus.active,
    PlanStatus.active: PlanStatus.closed,
}


def _invalid(field: str, message: str, type_: str = "invalid") -> Unprocessable:
    return Unprocessable(
        f"body.{field}: {message}", errors=[{"location": f"body.{field}", "message": message, "type": type_}]
    )


def ensure_open(plan: Plan) -> None:
    """A closed plan is history: its plan, campaigns and allocations no longer change."""
    if plan.status == PlanStatus.closed:
        raise Conflict(f"Plan {plan.id} is closed; it can no longer be changed.")


def _label_agrees(label: str | None, start, end) -> None:
    """A plan's period label and dates say the same: `2027-Q1` runs 2027-01-01..2027-03-31, no other dates.

    422 with one error per date that differs. Dates of a custom period go without a label."""
    if label is None:
        return
    period = parse_period(label)
    errors = [
        {
            "location": f"body.{field}",
            "message": f"{value} is not the {edge} day of {period.label} ({expected}); change or leave out "
            "the date, or send period_label null for a custom period",
            "type": "period_mismatch",
        }
        for field, value, expected, edge in (
            ("start_date", start, period.start, "first"),
            ("end_date", end, period.end, "last"),
        )
        if value != expected
    ]
    if errors:
        raise Unprocessable(
            f"period_label {period.label} runs {period.start}..{period.end}, not {start}..{end}", errors=errors
        )


async def create_plan(session: AsyncSession, *, body: PlanCreate) -> Plan:
    """A draft plan for a period: a label and the dates it covers, or the dates of a custom period."""
    _label_agrees(body.period_label, body.start_date, body.end_date)
    plan = Plan(**body.model_dump())
    session.add(plan)
    await session.flush()
    return plan


async def list_plans(
    session: AsyncSession, *, page: PageParams, status: PlanStatus | None, period_label: str | None, active_on
):
    """The organisation's plans, oldest first, filtered."""
    stmt = select(Plan)
    if status is not None:
        stmt = stmt.where(Plan.status == status)
    if period_label is not None:
        try:
            label = parse_period(period_label).label
        except ValueError as exc:
            raise Unprocessable(str(exc), errors=[{"location": "query.period_label", "message": str(exc)}]) from exc
        stmt = stmt.where(Plan.period_label == label)
    if active_on is not None:
        stmt = stmt.where(Plan.start_date <= active_on, Plan.end_date >= active_on)
    return await fetch_page(session, stmt, Plan.id, page)


async def get_plan(session: AsyncSession, *, plan_id: uuid.UUID) -> Plan:
    """One plan of the caller's organisation (404 otherwise)."""
    return await get_or_404(session, Plan, plan_id)


async def update_plan(session: AsyncSession, *, plan_id: uuid.UUID, body: PlanUpdate) -> Plan:
    """Change a plan's name, description or period; label and dates must agree, campaigns must still fit inside."""
    plan = await get_or_404(session, Plan, plan_id)
    ensure_open(plan)
    changes = body.changes()
    if changes.get("period_label"):
        period = parse_period(changes["period_label"])
        changes.setdefault("start_date", period.start)
        changes.setdefault("end_date", period.end)
    start, end = changes.get("start_date", plan.start_date), changes.get("end_date", plan.end_date)
    try:
        check_date_order(start, end, start_name="start_date", end_name="end_date")
    except ValueError as exc:
        raise _invalid("end_date", str(exc), "date_order") from exc
    if {"period_label", "start_date", "end_date"} & changes.keys():
        # The merged period: new dates under the stored label must still be that label's dates.
        _label_agrees(changes.get("period_label", plan.period_label), start, end)
    outside = (
        await session.scalars(
            select(Campaign.name).where(
                Campaign.plan_id == plan.id, (Campaign.start_date < start) | (Campaign.end_date > end)
            )
        )
    ).all()
    if outside:
        raise Conflict(
            f"{len(outside)} campaign(s) would fall outside {start}..{end}: {', '.join(sorted(outside))}.",
            campaigns=sorted(outside),
        )
    apply_changes(plan, changes)
    await session.flush()
    return plan


async def change_status(session: AsyncSession, *, plan_id: uuid.UUID, to: PlanStatus) -> Plan:
    """Move a plan one step along draft → approved → active → closed."""
    plan = await get_or_404(session, Plan, plan_id)
    if NEXT_STATUS.get(plan.status) != to:
        allowed = NEXT_STATUS.get(plan.status)
        hint = f"the only next status is {allowed.value}" if allowed else "a closed plan stays closed"
        raise Conflict(f"A plan cannot go from {plan.status.value} to {to.value}; {hint}.", status_now=plan.status)
    plan.status = to
    await session.flush()
    return plan


async def delete_plan(session: AsyncSession, *, plan_id: uuid.UUID) -> None:
    """Delete a draft plan with its campaigns and budget; approved and later plans are kept."""
    plan = await get_or_404(session, Plan, plan_id)
    if plan.status != PlanStatus.draft:
        raise Conflict(f"Only draft plans can be deleted; this one is {plan.status.value}. Close it instead.")
    await session.delete(plan)
    await session.flush()


# --- campaigns -------------------------------------------------------------------------------------


def _inside_plan(plan: Plan, start, end) -> None:
    if start < plan.start_date or end > plan.end_date:
        raise Unprocessable(
            f"The campaign's dates {start}..{end} are not inside its plan's period {plan.start_date}..{plan.end_date}.",
            errors=[{"location": "body.start_date", "message": "campaign dates must be inside the plan's period"}],
        )


async def _unique_name(session: AsyncSession, plan_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> None:
    stmt = select(Campaign.id).where(Campaign.plan_id == plan_id, Campaign.name == name)
    if exclude is not None:
        stmt = stmt.where(Campaign.id != exclude)
    if await session.scalar(stmt) is not None:
        raise Conflict(f"The plan already has a campaign named {name!r}.")


async def _check_refs(session: AsyncSession, owner_team_id: uuid.UUID | None, objective_id: uuid.UUID | None) -> None:
    await require_refs(session, {"owner_team_id": (Team, owner_team_id), "objective_id": (Objective, objective_id)})


async def create_campaign(session: AsyncSession, *, plan_id: uuid.UUID, body: CampaignCreate) -> Campaign:
    """A campaign inside its plan's period."""
    plan = await get_or_404(session, Plan, plan_id)
    ensure_open(plan)
    await require_refs(
        session, {"owner_team_id": (Team, body.owner_team_id), "objective_id": (Objective, body.objective_id)}
    )
    _inside_plan(plan, body.start_date, body.end_date)
    await _unique_name(session, plan.id, body.name)
    campaign = Campaign(plan_id=plan.id, **body.model_dump())
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(session: AsyncSession, *, plan_id: uuid.UUID, campaign_id: uuid.UUID) -> Campaign:
    campaign = await get_or_404(session, Campaign, campaign_id)
    if campaign.plan_id != plan_id:
        raise NotFound(f"No campaign {campaign_id} in plan {plan_id}.")
    return campaign


async def list_campaigns(
    session: AsyncSession, *, plan_id: uuid.UUID, page: PageParams, channel: str | None, team_id, objective_id
):
    """A plan's campaigns, oldest first, filtered."""
    await get_or_404(session, Plan, plan_id)
    stmt = select(Campaign).where(Campaign.plan_id == plan_id)
    if channel is not None:
        stmt = stmt.where(Campaign.channel == channel)
    if team_id is not None:
        stmt = stmt.where(Campaign.owner_team_id == team_id)
    if objective_id is not None:
        stmt = stmt.where(Campaign.objective_id == objective_id)
    return await fetch_page(session, stmt, Campaign.id, page)


async def update_campaign(
    session: AsyncSession, *, plan_id: uuid.UUID, campaign_id: uuid.UUID, body: CampaignUpdate
) -> Campaign:
    """Change a campaign; it must stay inside its plan's period."""
    campaign = await get_campaign(session, plan_id=plan_id, campaign_id=campaign_id)
    plan = await get_or_404(session, Plan, plan_id)
    ensure_open(plan)
    changes = body.changes()
    await require_refs(
        session,
        {
            "owner_team_id": (Team, changes.get("owner_team_id")),
            "objective_id": (Objective, changes.get("objective_id")),
        },
    )
    start, end = changes.get("start_date", campaign.start_date), changes.get("end_date", campaign.end_date)
    try:
        check_date_order(start, end, start_name="start_date", end_name="end_date")
    except ValueError as exc:
        raise _invalid("end_date", str(exc), "date_order") from exc
    _inside_plan(plan, start, end)
    if "name" in changes:
        await _unique_name(session, plan.id, changes["name"], exclude=campaign.id)
    apply_changes(campaign, changes)
    await session.flush()
    return campaign


async def delete_campaign(session: AsyncSession, *, plan_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
    """Delete a campaign that no budget line points to."""
    campaign = await get_campaign(session, plan_id=plan_id, campaign_id=campaign_id)
    ensure_open(await get_or_404(session, Plan, plan_id))
    await refuse_if_referenced(session, campaign, [(BudgetLine.campaign_id, "budget lines")])
    await session.delete(campaign)
    await session.flush()
