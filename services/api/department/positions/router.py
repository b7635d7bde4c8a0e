"""Routes: positions, seats in a team (open, or filled by a member)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from services.api.department.positions import service as positions
from services.api.department.positions.schemas import PositionCreate, PositionOut, PositionUpdate
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page
from shared.department.models import PositionLevel

router = APIRouter()
CONFLICT = problem_responses(409)


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
