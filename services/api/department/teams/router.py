"""Routes: teams, a tree (a team moves with its subteams)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.department.teams import service as teams
from services.api.department.teams.schemas import TeamCreate, TeamOut, TeamUpdate
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page

router = APIRouter()
CONFLICT = problem_responses(409)


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
