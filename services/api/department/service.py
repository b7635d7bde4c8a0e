"""The department (one per organisation) and its overview: the team tree with headcounts, in four queries."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.department.schemas import DepartmentOut, DepartmentOverview, Headcount, OverviewTotals, TeamNode
from shared.department.models import Department, Member, Position, StructureType, Team


async def get_department(session: AsyncSession) -> Department | None:
    """The organisation's department, or None before the first PUT (reading never creates it)."""
    return await session.scalar(select(Department))


async def put_department(
    session: AsyncSession, *, name: str, structure_type: StructureType | None, mission: str | None
) -> tuple[Department, bool]:
    """Create or replace the department; True when it was created."""
    department = await session.scalar(select(Department).with_for_update())
    created = department is None
    if department is None:
        department = Department()
        session.add(department)
    department.name = name
    department.structure_type = structure_type
    department.mission = mission
    await session.flush()
    return department, created


def department_out(department: Department | None) -> DepartmentOut:
    if department is None:
        return DepartmentOut(configured=False)
    return DepartmentOut(
        configured=True,
        id=department.id,
        name=department.name,
        structure_type=department.structure_type,
        mission=department.mission,
        created_at=department.created_at,
        updated_at=department.updated_at,
    )


@dataclass
class _Count:
    total: int = 0
    filled: int = 0

    def add(self, other: "_Count") -> None:
        self.total += other.total
        self.filled += other.filled

    def out(self) -> Headcount:
        return Headcount(filled=self.filled, open=self.total - self.filled, total=self.total)


@dataclass
class _Team:
    row: Any  # a Row of (id, name, description, parent_id)
    own: _Count
    children: list["_Team"] = field(default_factory=list)
    below: _Count = field(default_factory=_Count)


def _roll_up(roots: list[_Team]) -> None:
    """Fill `below` (own + all descendants) for every node, deepest first, without recursion."""
    order, stack = [], list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        node.below.add(node.own)
        for child in node.children:
            node.below.add(child.below)


def _node_out(node: _Team) -> TeamNode:
    return TeamNode(
        id=node.row.id,
        name=node.row.name,
        description=node.row.description,
        parent_id=node.row.parent_id,
        headcount=node.own.out(),
        headcount_with_subteams=node.below.out(),
        children=[_node_out(child) for child in node.children],
    )


async def overview(session: AsyncSession) -> DepartmentOverview:
    """The department, its team tree with headcounts, and totals; the same four queries for any size."""
    department = await get_department(session)
    rows = (await session.execute(select(Team.id, Team.name, Team.description, Team.parent_id))).all()
    # Sorted here, not in SQL: the same order on every database, whatever its collation.
    teams = sorted(rows, key=lambda t: (t.name.casefold(), t.name, t.id))
    per_team = (
        await session.execute(
            select(Position.team_id, func.count(Position.id), func.count(Member.id))
            .outerjoin(Member, Member.position_id == Position.id)
            .group_by(Position.team_id)
        )
    ).all()
    members, placed = (await session.execute(select(func.count(Member.id), func.count(Member.position_id)))).one()

    counts = {team_id: _Count(total=total, filled=filled) for team_id, total, filled in per_team}
    nodes: dict[uuid.UUID, _Team] = {row.id: _Team(row=row, own=counts.get(row.id, _Count())) for row in teams}
    roots: list[_Team] = []
    for node in nodes.values():  # teams come sorted by name, so children do too
        parent = nodes.get(node.row.parent_id) if node.row.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    _roll_up(roots)

    positions = sum(c.total for c in counts.values())
    filled = sum(c.filled for c in counts.values())
    return DepartmentOverview(
        department=department_out(department),
        totals=OverviewTotals(
            teams=len(teams),
            positions=positions,
            filled=filled,
            open=positions - filled,
            members=members,
            members_without_position=members - placed,
        ),
        teams=[_node_out(root) for root in roots],
    )
