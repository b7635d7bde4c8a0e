"""Routes: members, the people of the department (each holds at most one position)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.department.members import service as members
from services.api.department.members.schemas import MemberCreate, MemberOut, MemberUpdate
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page

router = APIRouter()
CONFLICT = problem_responses(409)


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
