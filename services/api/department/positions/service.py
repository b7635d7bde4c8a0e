"""Positions: seats in a team. Open or filled is derived from whether a member holds the seat."""

import uuid
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.department.guards import refuse_delete_if_referenced
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict
from shared.department.models import Member, Position, PositionLevel, Team


def held():
    """SQL condition: a member holds the position."""
    return select(Member.id).where(Member.position_id == Position.id).exists()


async def get_position(session: AsyncSession, *, position_id: uuid.UUID) -> Position:
    """The position with its holder loaded."""
    return await get_or_404(session, Position, position_id, load=[selectinload(Position.holder)])


async def create_position(
    session: AsyncSession,
    *,
    title: str,
    team_id: uuid.UUID,
    level: PositionLevel | None,
    responsibilities: list[str],
    target_hire_date: date | None,
) -> Position:
    """A new, open position in a team."""
    await require_refs(session, {"team_id": (Team, team_id)})
    position = Position(
        title=title,
        team_id=team_id,
        level=level,
        responsibilities=responsibilities,
        target_hire_date=target_hire_date,
    )
    session.add(position)
    await session.flush()
    return await get_position(session, position_id=position.id)


async def list_positions(
    session: AsyncSession,
    *,
    page: PageParams,
    team_id: uuid.UUID | None,
    status: Literal["open", "filled"] | None,
    level: PositionLevel | None,
) -> tuple[list[Position], str | None]:
    """Positions with their holders (two queries per page), oldest first."""
    stmt = select(Position).options(selectinload(Position.holder))
    if team_id is not None:
        stmt = stmt.where(Position.team_id == team_id)
    if level is not None:
        stmt = stmt.where(Position.level == level)
    if status == "filled":
        stmt = stmt.where(held())
    elif status == "open":
        stmt = stmt.where(~held())
    return await fetch_page(session, stmt, Position.id, page)


async def update_position(session: AsyncSession, *, position_id: uuid.UUID, changes: dict[str, Any]) -> Position:
    """Change a position's fields; a member holding it keeps it (also across teams)."""
    position = await get_position(session, position_id=position_id)
    if "team_id" in changes:
        await require_refs(session, {"team_id": (Team, changes["team_id"])})
    apply_changes(position, changes)
    await session.flush()
    return position


async def delete_position(session: AsyncSession, *, position_id: uuid.UUID) -> None:
    """Delete an open position nothing else points at (workflow steps it owns…)."""
    position = await get_position(session, position_id=position_id)
    if position.holder is not None:
        raise Conflict(
            f"Position {position.id} is held by member {position.holder.name!r} ({position.holder.id}); "
            "unassign the member (PATCH /v1/members/{id} with position_id null) first.",
            referenced_by={"members": 1},
            holder={"id": str(position.holder.id), "name": position.holder.name},
        )
    await refuse_delete_if_referenced(session, position)
    await session.delete(position)
    await session.flush()
