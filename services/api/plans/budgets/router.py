"""Routes: a plan's budget, its allocation lines, reallocations and the budget report."""

import uuid

from fastapi import APIRouter, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.plans.budgets import service
from services.api.plans.budgets.schemas import (
    BudgetLineCreate,
    BudgetLineOut,
    BudgetLineUpdate,
    BudgetOut,
    BudgetPut,
    BudgetReport,
    ReallocationCreate,
    ReallocationOut,
)
from services.api.problems import problem_responses
from services.api.schemas import ChannelKey, Page

router = APIRouter()


async def _lines_out(session: SessionDep, plan_id: uuid.UUID, lines) -> list[BudgetLineOut]:
    lines = list(lines)
    if not lines:
        return []
    ingested = await service.ingested_by_line(session, plan_id=plan_id, lines=lines)
    currency = (await service.get_budget(session, plan_id=plan_id)).currency
    return [
        BudgetLineOut.model_validate(line).model_copy(
            update={**service.line_figures(line, ingested[line.id]), "currency": currency}
        )
        for line in lines
    ]


CONFLICT = problem_responses(409)


@router.put("/plans/{plan_id}/budget", response_model=BudgetOut, responses=CONFLICT)
async def put_budget(plan_id: uuid.UUID, body: BudgetPut, session: SessionDep, _: Editor) -> BudgetOut:
    """Set the plan's budget: total (decimal string) and ISO 4217 currency. Creates it the first time.

    The total cannot drop below what the lines already allocate (409 with the shortfall), and the
    currency cannot change once money is allocated.
    """
    budget = await service.put_budget(session, plan_id=plan_id, body=body)
    return BudgetOut(**await service.budget_summary(session, budget))


@router.get("/plans/{plan_id}/budget", response_model=BudgetOut)
async def get_budget(plan_id: uuid.UUID, session: SessionDep, _: Reader) -> BudgetOut:
    """The plan's budget with what is allocated and what is left (404 until one is set)."""
    budget = await service.get_budget(session, plan_id=plan_id)
    return BudgetOut(**await service.budget_summary(session, budget))


@router.post(
    "/plans/{plan_id}/budget/lines",
    status_code=status.HTTP_201_CREATED,
    response_model=BudgetLineOut,
    responses=CONFLICT,
)
async def add_budget_line(plan_id: uuid.UUID, body: BudgetLineCreate, session: SessionDep, _: Editor) -> BudgetLineOut:
    """Allocate money to a channel, a team and/or a campaign of this plan.

    The lines may never add up to more than the total: a line that would is refused with 409 and the
    `overshoot` in the problem. This holds under concurrent requests too.
    """
    [line] = await _lines_out(session, plan_id, [await service.add_line(session, plan_id=plan_id, body=body)])
    return line


@router.get("/plans/{plan_id}/budget/lines", response_model=Page[BudgetLineOut])
async def list_budget_lines(
    plan_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    page: PageDep,
    channel: ChannelKey | None = None,
    team_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Page[BudgetLineOut]:
    """The budget's allocation lines, oldest first; filter by channel, team or campaign."""
    lines, cursor = await service.list_lines(
        session, plan_id=plan_id, page=page, channel=channel, team_id=team_id, campaign_id=campaign_id
    )
    return Page[BudgetLineOut](items=await _lines_out(session, plan_id, lines), next_cursor=cursor)


@router.patch("/plans/{plan_id}/budget/lines/{line_id}", response_model=BudgetLineOut, responses=CONFLICT)
async def update_budget_line(
    plan_id: uuid.UUID, line_id: uuid.UUID, body: BudgetLineUpdate, session: SessionDep, _: Editor
) -> BudgetLineOut:
    """Change a line: its dimensions, planned amount (within the total, else 409) or actual spend.

    Actual spend (`actual_amount`) can still be recorded once the plan is closed; nothing else can.
    """
    line = await service.update_line(session, plan_id=plan_id, line_id=line_id, body=body)
    [out] = await _lines_out(session, plan_id, [line])
    return out


@router.delete("/plans/{plan_id}/budget/lines/{line_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_budget_line(plan_id: uuid.UUID, line_id: uuid.UUID, session: SessionDep, _: Editor) -> Response:
    """Delete a line; its money becomes unallocated.

    Refused with 409 while the line has spend (entered by hand or ingested: `spent` in the problem), and while
    reallocations of the trail moved money from or to it (`referenced_by: {"reallocations": n}` and their ids
    in `reallocations`): the trail keeps where every move went. Reallocate the line's money instead.
    """
    await service.delete_line(session, plan_id=plan_id, line_id=line_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/plans/{plan_id}/budget/reallocations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReallocationOut,
    responses=CONFLICT,
)
async def reallocate_budget(
    plan_id: uuid.UUID, body: ReallocationCreate, session: SessionDep, caller: Editor
) -> ReallocationOut:
    """Move planned money from one line to another in one step; the total stays the same.

    Only unspent money can move: planned − actual of the source line, where actual is the same figure the
    budget report shows (entered by hand + ingested spend); more → 409 with `available` and `spent`. Every
    move is kept in the trail with who (the API key), when, from, to, amount and reason.
    """
    move = await service.reallocate(session, plan_id=plan_id, body=body, by_key_id=caller.key_id)
    return ReallocationOut.model_validate(move)


@router.get("/plans/{plan_id}/budget/reallocations", response_model=Page[ReallocationOut])
async def list_reallocations(
    plan_id: uuid.UUID, session: SessionDep, _: Reader, page: PageDep, line_id: uuid.UUID | None = None
) -> Page[ReallocationOut]:
    """The reallocation trail, oldest first; `line_id` keeps the moves from or to one line."""
    moves, cursor = await service.list_reallocations(session, plan_id=plan_id, page=page, line_id=line_id)
    return Page[ReallocationOut](items=[ReallocationOut.model_validate(m) for m in moves], next_cursor=cursor)


@router.get("/plans/{plan_id}/budget/report", response_model=BudgetReport)
async def budget_report(plan_id: uuid.UUID, session: SessionDep, _: Reader) -> BudgetReport:
    """Planned, actual, variance (planned − actual) and utilisation (actual ÷ planned) per line, per
    channel and in total, with what is still unallocated."""
    return await service.report(session, plan_id=plan_id)
