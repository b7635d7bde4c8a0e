"""Routes: teams (a tree), positions (seats in a team, open or filled) and members (the people)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from services.api.department import members, positions, teams
from services.api.department.schemas import (
    MemberCreate,
    MemberOut,
    MemberUpdate,
    PositionCreate,
    PositionOut,
    PositionUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
)
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page
from shared.department.models import PositionLevel

router = APIRouter()

CONFLICT = problem_responses(409)


# --- teams ----------------------------------------------------------------------------------------


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut, responses=CONFLICT)
async def create_team(body: TeamCreate, session: SessionDep, _caller: Editor) -> TeamOut:
    """Create a team, top-level or under `parent_id`.

    Sibling names are unique, ignoring case (409). An unknown `parent_id` is a 422. The tree is at most
    10 levels deep (409).
    """
    team = await teams.create_team(session, name=body.name, description=body.description, parent_id=body.parent_id)
    return TeamOut.model_validate(team)


@router.get("/teams", response_model=Page[TeamOut])
async def list_teams(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    parent_id: Annotated[uuid.UUID | None, Query(description="Only the direct subteams of this team")] = None,
    root: Annotated[
        bool | None, Query(description="true: only top-level teams; false: only subteams; not with parent_id=…")
    ] = None,
) -> Page[TeamOut]:
    """List teams, oldest first. For the whole tree with headcounts in one call, see `GET /v1/department/overview`."""
    found, next_cursor = await teams.list_teams(session, page=page, parent_id=parent_id, root=root)
    return Page[TeamOut](items=[TeamOut.model_validate(t) for t in found], next_cursor=next_cursor)


@router.get("/teams/{team_id}", response_model=TeamOut)
async def get_team(team_id: uuid.UUID, session: SessionDep, _caller: Reader) -> TeamOut:
    """One team by id (another organisation's id is a 404). Its subteams: `GET /v1/teams?parent_id=…`."""
    return TeamOut.model_validate(await teams.get_team(session, team_id=team_id))


@router.patch("/teams/{team_id}", response_model=TeamOut, responses=CONFLICT)
async def update_team(team_id: uuid.UUID, body: TeamUpdate, session: SessionDep, _caller: Editor) -> TeamOut:
    """Rename a team, change its description, or move it (with its subteams) by setting `parent_id`.

    `parent_id: null` makes it top-level. Moving a team under itself or under one of its own subteams would
    make a cycle and is refused with 409 (`rule: no_cycles`); so is a sibling-name clash
    (`unique_sibling_names`) or a tree deeper than 10 levels (`max_depth`).
    """
    team = await teams.update_team(session, team_id=team_id, changes=body.changes())
    return TeamOut.model_validate(team)


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_team(team_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a team.

    Refused with 409 while anything points at it: child teams, positions, workflows or workflow steps it
    owns, objectives, campaigns, budget lines, KPIs it owns. The problem's `referenced_by` counts each kind
    (e.g. `{"child teams": 1, "kpis": 2}`).
    """
    await teams.delete_team(session, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- positions ------------------------------------------------------------------------------------


@router.post("/positions", status_code=status.HTTP_201_CREATED, response_model=PositionOut)
async def create_position(body: PositionCreate, session: SessionDep, _caller: Editor) -> PositionOut:
    """Create a position in a team. It is `open` until a member is given it (`position_id` on the member)."""
    position = await positions.create_position(session, **body.model_dump())
    return PositionOut.model_validate(position)


@router.get("/positions", response_model=Page[PositionOut])
async def list_positions(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    team_id: Annotated[uuid.UUID | None, Query(description="Only positions of this team (not its subteams)")] = None,
    status_: Annotated[
        Literal["open", "filled"] | None, Query(alias="status", description="open: nobody holds it; filled: held")
    ] = None,
    level: Annotated[PositionLevel | None, Query(description="Only positions of this level")] = None,
) -> Page[PositionOut]:
    """List positions, oldest first, each with its derived `status` and its `holder` (id and name)."""
    found, next_cursor = await positions.list_positions(
        session, page=page, team_id=team_id, status=status_, level=level
    )
    return Page[PositionOut](items=[PositionOut.model_validate(p) for p in found], next_cursor=next_cursor)


@router.get("/positions/{position_id}", response_model=PositionOut)
async def get_position(position_id: uuid.UUID, session: SessionDep, _caller: Reader) -> PositionOut:
    """One position by id, with its derived `status` (open/filled) and its `holder`."""
    return PositionOut.model_validate(await positions.get_position(session, position_id=position_id))


@router.patch("/positions/{position_id}", response_model=PositionOut)
async def update_position(
    position_id: uuid.UUID, body: PositionUpdate, session: SessionDep, _caller: Editor
) -> PositionOut:
    """Change a position's title, team, level, responsibilities (the list is replaced) or target hire date.

    Who holds it is changed on the member (`PATCH /v1/members/{id}` with `position_id`).
    """
    changes = body.changes()
    position = await positions.update_position(session, position_id=position_id, changes=changes)
    return PositionOut.model_validate(position)


@router.delete("/positions/{position_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_position(position_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete an open position.

    A filled position is refused with 409 naming its `holder` (`referenced_by: {"members": 1}`); so is one
    that workflow steps name as owner (`referenced_by: {"workflow steps": n}`).
    """
    await positions.delete_position(session, position_id=position_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- members --------------------------------------------------------------------------------------


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=CONFLICT)
async def create_member(body: MemberCreate, session: SessionDep, _caller: Editor) -> MemberOut:
    """Add a person to the department, optionally in a position.

    The email is stored lower-case and is unique in the organisation (409). A position already held by
    someone else is refused with 409 naming the `holder`; an unknown `position_id` is a 422.
    """
    member = await members.create_member(session, name=body.name, email=body.email, position_id=body.position_id)
    return MemberOut.of(member)


@router.get("/members", response_model=Page[MemberOut])
async def list_members(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    team_id: Annotated[uuid.UUID | None, Query(description="Members holding a position in this team")] = None,
    position_id: Annotated[uuid.UUID | None, Query(description="The member holding this position")] = None,
    has_position: Annotated[bool | None, Query(description="false: only members without a position")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Substring of the name or email, any case")
    ] = None,
) -> Page[MemberOut]:
    """List members, oldest first, each with its position and that position's team."""
    found, next_cursor = await members.list_members(
        session, page=page, team_id=team_id, position_id=position_id, has_position=has_position, q=q
    )
    return Page[MemberOut](items=[MemberOut.of(m) for m in found], next_cursor=next_cursor)


@router.get("/members/{member_id}", response_model=MemberOut)
async def get_member(member_id: uuid.UUID, session: SessionDep, _caller: Reader) -> MemberOut:
    """One member by id, with their position and that position's team."""
    return MemberOut.of(await members.get_member(session, member_id=member_id))


@router.patch("/members/{member_id}", response_model=MemberOut, responses=CONFLICT)
async def update_member(member_id: uuid.UUID, body: MemberUpdate, session: SessionDep, _caller: Editor) -> MemberOut:
    """Change a member's name or email, give them a position, or take it away (`position_id: null`).

    The position they leave becomes open. Taking a position someone else holds is a 409 naming the holder.
    """
    member = await members.update_member(session, member_id=member_id, changes=body.changes())
    return MemberOut.of(member)


@router.delete("/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_member(member_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Remove a member from the department; the position they held becomes open.

    Refused with 409 while KPIs name the member as their owner (`owner_member_id`; the problem's
    `referenced_by` counts them, e.g. `{"kpis": 2}`): give those KPIs another owner first.
    """
    await members.delete_member(session, member_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
