"""Teams: a tree without cycles, at most MAX_DEPTH levels deep, sibling names unique (case-insensitive)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404
from services.api.department.guards import refuse_delete_if_referenced
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, Unprocessable
from shared.db.engine import is_postgres
from shared.department.models import Team

# Deep enough for any real department (division > department > team > squad…); it bounds the overview's
# nesting, so a runaway chain cannot make the one-call tree unreadable or too deep to serialise.
MAX_DEPTH = 10


@dataclass(frozen=True)
class _Node:
    parent_id: uuid.UUID | None
    name: str


class _Tree:
    """The organisation's teams as (id -> parent, name), read in one query."""

    def __init__(self, nodes: dict[uuid.UUID, _Node]):
        self.nodes = nodes

    def ancestors(self, team_id: uuid.UUID | None) -> list[uuid.UUID]:
        """`team_id` and every team above it, nearest first."""
        chain: list[uuid.UUID] = []
        while team_id is not None and team_id in self.nodes and team_id not in chain:
            chain.append(team_id)
            team_id = self.nodes[team_id].parent_id
        return chain

    def height(self, team_id: uuid.UUID) -> int:
        """Levels in the subtree under (and including) `team_id`."""
        children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for node_id, node in self.nodes.items():
            children.setdefault(node.parent_id, []).append(node_id)
        deepest, stack, seen = 0, [(team_id, 1)], set()
        while stack:
            node_id, level = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children.get(node_id, []))
        return deepest

    def sibling_named(
        self, parent_id: uuid.UUID | None, name: str, *, other_than: uuid.UUID | None
    ) -> uuid.UUID | None:
        wanted = name.casefold()
        for node_id, node in self.nodes.items():
            if node.parent_id == parent_id and node.name.casefold() == wanted and node_id != other_than:
                return node_id
        return None

    def label(self, team_id: uuid.UUID) -> str:
        return f"team {self.nodes[team_id].name!r} ({team_id})"


async def _lock_tree(session: AsyncSession) -> _Tree:
    """Read the whole tree, locking its rows so two concurrent moves cannot close a cycle between them."""
    if not is_postgres(session):
        # SQLite has no row locks and reads outside a transaction until the first write: an empty write
        # takes the database's write lock now, so a concurrent change waits and we read what it committed.
        await session.execute(text("UPDATE teams SET name = name WHERE 1 = 0"))
    rows = (await session.execute(select(Team.id, Team.parent_id, Team.name).with_for_update())).all()
    return _Tree({row.id: _Node(row.parent_id, row.name) for row in rows})


def _unknown_parent(parent_id: uuid.UUID) -> Unprocessable:
    error = {"location": "body.parent_id", "message": f"no team {parent_id}", "type": "unknown_reference"}
    return Unprocessable(f"body.parent_id: no team {parent_id}", errors=[error])


def _check_place(
    tree: _Tree, *, team_id: uuid.UUID | None, name: str, parent_id: uuid.UUID | None, moving: bool
) -> None:
    """Refuse a team named `name` under `parent_id`: unknown parent 422; cycle, depth or name clash 409."""
    if parent_id is not None:
        if parent_id not in tree.nodes:
            raise _unknown_parent(parent_id)
        if moving and team_id is not None:
            if parent_id == team_id:
                raise Conflict("A team cannot be its own parent.", rule="no_cycles")
            if team_id in tree.ancestors(parent_id):
                raise Conflict(
                    f"The new parent, {tree.label(parent_id)}, is below this team; "
                    "moving the team under it would make a cycle.",
                    rule="no_cycles",
                )
        levels = len(tree.ancestors(parent_id)) + (tree.height(team_id) if moving and team_id else 1)
        if levels > MAX_DEPTH:
            raise Conflict(
                f"The team tree would be {levels} levels deep; at most {MAX_DEPTH} are allowed.", rule="max_depth"
            )
    clash = tree.sibling_named(parent_id, name, other_than=team_id)
    if clash is not None:
        where = f"under {tree.label(parent_id)}" if parent_id is not None else "at the top level"
        raise Conflict(
            f"There is already a team named {tree.nodes[clash].name!r} {where} ({clash}); sibling names are unique.",
            rule="unique_sibling_names",
            conflicting_team_id=str(clash),
        )


async def create_team(
    session: AsyncSession, *, name: str, description: str | None, parent_id: uuid.UUID | None
) -> Team:
    """A new team, top-level or under `parent_id`."""
    tree = await _lock_tree(session)
    _check_place(tree, team_id=None, name=name, parent_id=parent_id, moving=False)
    team = Team(name=name, description=description, parent_id=parent_id)
    session.add(team)
    await session.flush()
    return team


async def list_teams(
    session: AsyncSession, *, page: PageParams, parent_id: uuid.UUID | None, root: bool | None
) -> tuple[list[Team], str | None]:
    """Teams, oldest first; by parent, or only top-level (`root=true`) / only subteams (`root=false`)."""
    if parent_id is not None and root:
        raise Unprocessable(
            "parent_id and root=true contradict each other: top-level teams have no parent.",
            errors=[{"location": "query.root", "message": "cannot be true with parent_id", "type": "conflict"}],
        )
    stmt = select(Team)
    if parent_id is not None:
        stmt = stmt.where(Team.parent_id == parent_id)
    if root is True:
        stmt = stmt.where(Team.parent_id.is_(None))
    elif root is False:
        stmt = stmt.where(Team.parent_id.is_not(None))
    return await fetch_page(session, stmt, Team.id, page)


async def get_team(session: AsyncSession, *, team_id: uuid.UUID) -> Team:
    return await get_or_404(session, Team, team_id)


async def update_team(session: AsyncSession, *, team_id: uuid.UUID, changes: dict[str, Any]) -> Team:
    """Rename, describe or move a team (its subteams move with it)."""
    team = await get_or_404(session, Team, team_id)
    if "name" in changes or "parent_id" in changes:
        tree = await _lock_tree(session)
        parent_id = changes.get("parent_id", team.parent_id)
        _check_place(
            tree,
            team_id=team.id,
            name=changes.get("name", team.name),
            parent_id=parent_id,
            moving=parent_id != team.parent_id,
        )
    apply_changes(team, changes)
    await session.flush()
    return team


async def delete_team(session: AsyncSession, *, team_id: uuid.UUID) -> None:
    """Delete a team nothing points at (subteams, positions, workflows, objectives, campaigns, budget lines…)."""
    team = await get_or_404(session, Team, team_id)
    await refuse_delete_if_referenced(session, team)
    await session.delete(team)
    await session.flush()
