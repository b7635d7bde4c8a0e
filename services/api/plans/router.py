"""Routes: plans and their campaigns; the budget routes (`plans/budgets/router.py`) are included below."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.plans import service
from services.api.plans.budgets.router import router as budgets_router
from services.api.plans.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignUpdate,
    PlanCreate,
    PlanOut,
    PlanStatusChange,
    PlanUpdate,
)
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import ChannelKey, Day, Page
from shared.plans.models import PlanStatus

router = APIRouter(prefix="/v1", tags=["plans & budgets"], responses=V1_ERRORS)
CONFLICT = problem_responses(409)


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
async def create_plan(body: PlanCreate, session: SessionDep, _: Editor) -> PlanOut:
    """Create a marketing plan for a period, in `draft`.

    Give `period_label` (`2027-Q1`, `2027-03`, `2027-W05`, `2027`…) and the dates are derived from it, or
    give `start_date` and `end_date` without a label for a custom period. A label with dates is accepted when
    they are the period's first and last day; other dates are 422 naming `body.start_date` / `body.end_date`
    (a June date under `2027-Q1` would file the plan under the wrong quarter).
    """
    return PlanOut.model_validate(await service.create_plan(session, body=body))


@router.get("/plans", response_model=Page[PlanOut])
async def list_plans(
    session: SessionDep,
    _: Reader,
    page: PageDep,
    status_: Annotated[PlanStatus | None, Query(alias="status")] = None,
    period_label: Annotated[str | None, Query(examples=["2027-Q1"])] = None,
    active_on: Annotated[Day | None, Query(description="Only plans whose period includes this date")] = None,
) -> Page[PlanOut]:
    """List plans, oldest first; filter by status, period label or a date inside the period."""
    plans, cursor = await service.list_plans(
        session, page=page, status=status_, period_label=period_label, active_on=active_on
    )
    return Page[PlanOut](items=[PlanOut.model_validate(p) for p in plans], next_cursor=cursor)


@router.get("/plans/{plan_id}", response_model=PlanOut)
async def get_plan(plan_id: uuid.UUID, session: SessionDep, _: Reader) -> PlanOut:
    """One plan with its period and status (another organisation's plan id answers 404)."""
    return PlanOut.model_validate(await service.get_plan(session, plan_id=plan_id))


@router.patch("/plans/{plan_id}", response_model=PlanOut, responses=CONFLICT)
async def update_plan(plan_id: uuid.UUID, body: PlanUpdate, session: SessionDep, _: Editor) -> PlanOut:
    """Change a plan's name, description or period. Its campaigns must still fit inside the new period
    (409 lists those that would not); a closed plan cannot change (409).

    The merged period is checked like a new plan's: a new `period_label` alone moves the dates to it; new
    dates under the stored label must be that label's dates (422), or send `"period_label": null` with them to
    make the period custom.
    """
    return PlanOut.model_validate(await service.update_plan(session, plan_id=plan_id, body=body))


@router.post("/plans/{plan_id}/status", response_model=PlanOut, responses=CONFLICT)
async def change_plan_status(plan_id: uuid.UUID, body: PlanStatusChange, session: SessionDep, _: Editor) -> PlanOut:
    """Move a plan to its next status: `draft` → `approved` → `active` → `closed`.

    Any other move (skipping a step, going back, leaving `closed`) is refused with 409.
    """
    return PlanOut.model_validate(await service.change_status(session, plan_id=plan_id, to=body.status))


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_plan(plan_id: uuid.UUID, session: SessionDep, _: Editor) -> Response:
    """Delete a **draft** plan together with its campaigns, budget, lines and reallocation trail.
    Approved, active and closed plans are kept (409): close a plan instead."""
    await service.delete_plan(session, plan_id=plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/plans/{plan_id}/campaigns", status_code=status.HTTP_201_CREATED, response_model=CampaignOut, responses=CONFLICT
)
async def create_campaign(plan_id: uuid.UUID, body: CampaignCreate, session: SessionDep, _: Editor) -> CampaignOut:
    """Add a campaign to a plan. Its dates must lie inside the plan's period (422); names are unique
    within a plan (409). `owner_team_id` and `objective_id` must exist in your organisation (422)."""
    return CampaignOut.model_validate(await service.create_campaign(session, plan_id=plan_id, body=body))


@router.get("/plans/{plan_id}/campaigns", response_model=Page[CampaignOut])
async def list_campaigns(
    plan_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    page: PageDep,
    channel: ChannelKey | None = None,
    owner_team_id: uuid.UUID | None = None,
    objective_id: uuid.UUID | None = None,
) -> Page[CampaignOut]:
    """A plan's campaigns, oldest first; filter by channel, owner team or objective."""
    campaigns, cursor = await service.list_campaigns(
        session, plan_id=plan_id, page=page, channel=channel, team_id=owner_team_id, objective_id=objective_id
    )
    return Page[CampaignOut](items=[CampaignOut.model_validate(c) for c in campaigns], next_cursor=cursor)


@router.get("/plans/{plan_id}/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(plan_id: uuid.UUID, campaign_id: uuid.UUID, session: SessionDep, _: Reader) -> CampaignOut:
    """One campaign of a plan."""
    return CampaignOut.model_validate(await service.get_campaign(session, plan_id=plan_id, campaign_id=campaign_id))


@router.patch("/plans/{plan_id}/campaigns/{campaign_id}", response_model=CampaignOut, responses=CONFLICT)
async def update_campaign(
    plan_id: uuid.UUID, campaign_id: uuid.UUID, body: CampaignUpdate, session: SessionDep, _: Editor
) -> CampaignOut:
    """Change a campaign; the result must still lie inside the plan's period."""
    campaign = await service.update_campaign(session, plan_id=plan_id, campaign_id=campaign_id, body=body)
    return CampaignOut.model_validate(campaign)


@router.delete("/plans/{plan_id}/campaigns/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_campaign(plan_id: uuid.UUID, campaign_id: uuid.UUID, session: SessionDep, _: Editor) -> Response:
    """Delete a campaign. Refused (409) while budget lines are allocated to it."""
    await service.delete_campaign(session, plan_id=plan_id, campaign_id=campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(budgets_router)
