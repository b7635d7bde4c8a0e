"""Members: the department's people. Email unique per organisation; at most one member per position."""

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.department.guards import refuse_delete_if_referenced
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict
from shared.department.models import Member, Position


async def get_member(session: AsyncSession, *, member_id: uuid.UUID) -> Member:
    """The member with their position loaded (for the team they are in)."""
    return await get_or_404(session, Member, member_id, load=[selectinload(Member.position)])


async def _refuse_taken(
    session: AsyncSession, *, email: str | None, position_id: uuid.UUID | None, other_than: uuid.UUID | None
) -> None:
    """409 when another member has this email or holds this position."""
    if email is not None:
        stmt = select(Member.id).where(Member.email == email)
        if other_than is not None:
            stmt = stmt.where(Member.id != other_than)
        owner = await session.scalar(stmt)
        if owner is not None:
            raise Conflict(f"Member {owner} already has the email {email}.", conflicting_member_id=str(owner))
    if position_id is not None:
        held = select(Member.id, Member.name).where(Member.position_id == position_id)
        if other_than is not None:
            held = held.where(Member.id != other_than)
        holder = (await session.execute(held)).first()
        if holder is not None:
            raise Conflict(
                f"Position {position_id} is already held by member {holder.name!r} ({holder.id}); unassign them first.",
                holder={"id": str(holder.id), "name": holder.name},
            )


async def create_member(session: AsyncSession, *, name: str, email: str, position_id: uuid.UUID | None) -> Member:
    """A new member, optionally holding an open position."""
    await require_refs(session, {"position_id": (Position, position_id)})
    await _refuse_taken(session, email=email, position_id=position_id, other_than=None)
    member = Member(name=name, email=email, position_id=position_id)
    session.add(member)
    await session.flush()
    return await get_member(session, member_id=member.id)


async def list_members(
    session: AsyncSession,
    *,
    page: PageParams,
    team_id: uuid.UUID | None,
    position_id: uuid.UUID | None,
    has_position: bool | None,
    q: str | None,
) -> tuple[list[Member], str | None]:
    """Members with their positions (two queries per page), oldest first."""
    stmt = select(Member).options(selectinload(Member.position))
    if team_id is not None:
        stmt = stmt.where(Member.position_id.in_(select(Position.id).where(Position.team_id == team_id)))
    if position_id is not None:
        stmt = stmt.where(Member.position_id == position_id)
    if has_position is not None:
        stmt = stmt.where(Member.position_id.is_not(None) if has_position else Member.position_id.is_(None))
    if q:
        stmt = stmt.where(or_(Member.name.icontains(q, autoescape=True), Member.email.icontains(q, autoescape=True)))
    return await fetch_page(session, stmt, Member.id, page)


async def update_member(session: AsyncSession, *, member_id: uuid.UUID, changes: dict[str, Any]) -> Member:
    """Rename, re-email, assign to a position or unassign (`position_id: null`)."""
    member = await get_member(session, member_id=member_id)
    position_id = changes.get("position_id")
    await require_refs(session, {"position_id": (Position, position_id)})
    await _refuse_taken(session, email=changes.get("email"), position_id=position_id, other_than=member.id)
    apply_changes(member, changes)
    await session.flush()
    return await get_member(session, member_id=member.id)


async def delete_member(session: AsyncSession, *, member_id: uuid.UUID) -> None:
    """Delete a member; the position they held becomes open."""
    member = await get_member(session, member_id=member_id)
    await refuse_delete_if_referenced(session, member)
    await session.delete(member)
    await session.flush()
