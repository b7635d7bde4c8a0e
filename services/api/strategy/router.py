"""Routes: business goals, objectives (with their SMART check), segments and competitors."""

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Page
from services.api.strategy import service
from services.api.strategy.schemas import (
    BusinessGoalCreate,
    BusinessGoalOut,
    BusinessGoalUpdate,
    CompetitorCreate,
    CompetitorOut,
    CompetitorUpdate,
    MarketAnalysisOut,
    ObjectiveCreate,
    ObjectiveOut,
    ObjectiveUpdate,
    SegmentCreate,
    SegmentOut,
    SegmentUpdate,
)
from shared.strategy.models import GoalStatus, ObjectiveStatus, Priority
from shared.strategy.smart import Verdict

router = APIRouter(prefix="/v1", tags=["strategy"], responses=V1_ERRORS)

NO_CONTENT = status.HTTP_204_NO_CONTENT
NameQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        examples=["retail"],
        description="Only those whose name contains this text, ignoring case",
    ),
]
CONFLICT = problem_responses(409)


# ---------------------------------------------------------------- business goals


@router.post("/business-goals", status_code=status.HTTP_201_CREATED, response_model=BusinessGoalOut)
async def create_business_goal(body: BusinessGoalCreate, session: SessionDep, _caller: Editor) -> BusinessGoalOut:
    """Create a business goal the marketing department serves, e.g. "grow online revenue 30% in 2027".

    Objectives link to it with `business_goal_id`; their SMART check is *relevant* while it is `active`.
    """
    goal = await service.create_goal(session, fields=body.model_dump())
    return BusinessGoalOut.model_validate(goal)


@router.get("/business-goals", response_model=Page[BusinessGoalOut])
async def list_business_goals(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    status: Annotated[GoalStatus | None, Query(description="Only goals with this status")] = None,
) -> Page[BusinessGoalOut]:
    """List your organisation's business goals, oldest first."""
    goals, next_cursor = await service.list_goals(session, page=page, status=status)
    return Page[BusinessGoalOut](items=[BusinessGoalOut.model_validate(g) for g in goals], next_cursor=next_cursor)


@router.get("/business-goals/{goal_id}", response_model=BusinessGoalOut)
async def get_business_goal(goal_id: uuid.UUID, session: SessionDep, _caller: Reader) -> BusinessGoalOut:
    """Read one business goal."""
    return BusinessGoalOut.model_validate(await service.get_goal(session, goal_id=goal_id))


@router.patch("/business-goals/{goal_id}", response_model=BusinessGoalOut)
async def update_business_goal(
    goal_id: uuid.UUID, body: BusinessGoalUpdate, session: SessionDep, _caller: Editor
) -> BusinessGoalOut:
    """Change a business goal; only the fields sent change.

    Setting `status` to achieved, missed or dropped turns its objectives' *relevant* check to a warning.
    """
    goal = await service.update_goal(session, goal_id=goal_id, changes=body.changes())
    return BusinessGoalOut.model_validate(goal)


@router.delete("/business-goals/{goal_id}", status_code=NO_CONTENT, responses=CONFLICT)
async def delete_business_goal(goal_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a business goal. Refused with 409, naming them, while objectives still serve it:
    move those objectives to another goal (or delete them) first."""
    await service.delete_goal(session, goal_id=goal_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------- objectives


@router.post("/objectives", status_code=status.HTTP_201_CREATED, response_model=ObjectiveOut)
async def create_objective(body: ObjectiveCreate, session: SessionDep, _caller: Editor) -> ObjectiveOut:
    """Create a marketing objective. The response carries its SMART check and `kpis`, the KPIs that measure it
    (none yet: a KPI is linked from the KPI side, with `objectives: [{objective_id, weight}]` on POST/PATCH
    /v1/kpis).

    `business_goal_id` and `owner_team_id` must name a goal and a team of your organisation (422
    otherwise); `deadline` must not be before `start_date`. An objective that fails the SMART check is
    still saved: the check tells you what to fix (`smart.<letter>.reason`).
    """
    return ObjectiveOut.of(*await service.create_objective(session, fields=body.model_dump()))


@router.get("/objectives", response_model=Page[ObjectiveOut])
async def list_objectives(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    business_goal_id: Annotated[uuid.UUID | None, Query(description="Only objectives serving this goal")] = None,
    status: Annotated[ObjectiveStatus | None, Query(description="Only objectives with this status")] = None,
    owner_team_id: Annotated[uuid.UUID | None, Query(description="Only objectives this team owns")] = None,
    smart: Annotated[
        Verdict | None,
        Query(
            description="Only objectives whose overall SMART verdict is this: `fail` = at least one letter "
            "fails, `warn` = none fails and at least one warns, `pass` = all five pass"
        ),
    ] = None,
) -> Page[ObjectiveOut]:
    """List your organisation's objectives with their SMART checks and linked KPIs (`kpis`: id, name,
    weight), oldest first.

    Pages are full whatever the filters (also `smart`); keep passing `next_cursor` until it is null.
    """
    rows, next_cursor = await service.list_objectives(
        session, page=page, business_goal_id=business_goal_id, status=status, owner_team_id=owner_team_id, smart=smart
    )
    return Page[ObjectiveOut](items=[ObjectiveOut.of(*row) for row in rows], next_cursor=next_cursor)


@router.get("/objectives/{objective_id}", response_model=ObjectiveOut)
async def get_objective(objective_id: uuid.UUID, session: SessionDep, _caller: Reader) -> ObjectiveOut:
    """Read one objective with its SMART check (judged as of today) and the KPIs that measure it."""
    return ObjectiveOut.of(*await service.get_objective(session, objective_id=objective_id))


@router.patch("/objectives/{objective_id}", response_model=ObjectiveOut)
async def update_objective(
    objective_id: uuid.UUID, body: ObjectiveUpdate, session: SessionDep, _caller: Editor
) -> ObjectiveOut:
    """Change an objective; only the fields sent change, `null` clears an optional one.

    The result is validated as a whole: moving `deadline` before the stored `start_date` is a 422 and
    nothing is written. The response carries the new SMART check.
    """
    changes = body.changes()
    return ObjectiveOut.of(*await service.update_objective(session, objective_id=objective_id, changes=changes))


@router.delete("/objectives/{objective_id}", status_code=NO_CONTENT, responses=CONFLICT)
async def delete_objective(objective_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete an objective. Refused with 409 while campaigns work towards it (`campaign.objective_id`)."""
    await service.delete_objective(session, objective_id=objective_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------- segments


@router.post("/segments", status_code=status.HTTP_201_CREATED, response_model=SegmentOut, responses=CONFLICT)
async def create_segment(body: SegmentCreate, session: SessionDep, _caller: Editor) -> SegmentOut:
    """Add a target segment to the market analysis. A name already used (ignoring case) is a 409."""
    return SegmentOut.model_validate(await service.create_segment(session, fields=body.model_dump()))


@router.get("/segments", response_model=Page[SegmentOut])
async def list_segments(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    priority: Annotated[Priority | None, Query(description="Only segments with this priority")] = None,
    q: NameQuery = None,
) -> Page[SegmentOut]:
    """List your organisation's target segments, oldest first; filter by priority and by name (`q`)."""
    segments, next_cursor = await service.list_segments(session, page=page, priority=priority, q=q)
    return Page[SegmentOut](items=[SegmentOut.model_validate(s) for s in segments], next_cursor=next_cursor)


@router.get("/segments/{segment_id}", response_model=SegmentOut)
async def get_segment(segment_id: uuid.UUID, session: SessionDep, _caller: Reader) -> SegmentOut:
    """Read one target segment."""
    return SegmentOut.model_validate(await service.get_segment(session, segment_id=segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentOut, responses=CONFLICT)
async def update_segment(
    segment_id: uuid.UUID, body: SegmentUpdate, session: SessionDep, _caller: Editor
) -> SegmentOut:
    """Change a target segment; only the fields sent change. Renaming to a name in use is a 409."""
    changes = body.changes()
    segment = await service.update_segment(session, segment_id=segment_id, changes=changes)
    return SegmentOut.model_validate(segment)


@router.delete("/segments/{segment_id}", status_code=NO_CONTENT)
async def delete_segment(segment_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a target segment."""
    await service.delete_segment(session, segment_id=segment_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------- competitors


@router.post("/competitors", status_code=status.HTTP_201_CREATED, response_model=CompetitorOut, responses=CONFLICT)
async def create_competitor(body: CompetitorCreate, session: SessionDep, _caller: Editor) -> CompetitorOut:
    """Add a competitor to the market analysis. A name already used (ignoring case) is a 409."""
    return CompetitorOut.model_validate(await service.create_competitor(session, fields=body.model_dump()))


@router.get("/competitors", response_model=Page[CompetitorOut])
async def list_competitors(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    q: NameQuery = None,
    min_share: Annotated[
        Decimal | None,
        Query(
            ge=0,
            le=100,
            examples=["10"],
            description="Only competitors with an estimated market share of at least this percent "
            "(those without an estimate are left out)",
        ),
    ] = None,
) -> Page[CompetitorOut]:
    """List your organisation's competitors, oldest first; filter by name (`q`) and by estimated share
    (`min_share`). `/v1/market-analysis` lists them largest share first."""
    competitors, next_cursor = await service.list_competitors(session, page=page, q=q, min_share=min_share)
    return Page[CompetitorOut](items=[CompetitorOut.model_validate(c) for c in competitors], next_cursor=next_cursor)


@router.get("/competitors/{competitor_id}", response_model=CompetitorOut)
async def get_competitor(competitor_id: uuid.UUID, session: SessionDep, _caller: Reader) -> CompetitorOut:
    """Read one competitor."""
    return CompetitorOut.model_validate(await service.get_competitor(session, competitor_id=competitor_id))


@router.patch("/competitors/{competitor_id}", response_model=CompetitorOut, responses=CONFLICT)
async def update_competitor(
    competitor_id: uuid.UUID, body: CompetitorUpdate, session: SessionDep, _caller: Editor
) -> CompetitorOut:
    """Change a competitor; only the fields sent change, a list sent replaces the stored one."""
    competitor = await service.update_competitor(session, competitor_id=competitor_id, changes=body.changes())
    return CompetitorOut.model_validate(competitor)


@router.delete("/competitors/{competitor_id}", status_code=NO_CONTENT)
async def delete_competitor(competitor_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a competitor."""
    await service.delete_competitor(session, competitor_id=competitor_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------- market analysis


@router.get("/market-analysis", response_model=MarketAnalysisOut)
async def get_market_analysis(session: SessionDep, _caller: Reader) -> MarketAnalysisOut:
    """The market analysis on one page: target segments (high priority first), competitors (largest
    estimated share first), their counts, and the sum of the competitors' estimated shares, with a
    warning when it is over 100%. Each list holds at most 200; page `/v1/segments` and
    `/v1/competitors` for all of them."""
    return MarketAnalysisOut.model_validate(await service.market_analysis(session))
