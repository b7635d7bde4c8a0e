"""Workflows: processes owned by a team, the tools they use, and their ordered steps (positions 1..n).

Every change to a workflow, its steps or its tools first bumps the workflow's `updated_at`: that write
locks it, so two concurrent edits of one workflow take turns instead of both numbering a new step n+1.
"""

import uuid
from collections import Counter
from typing import Any

from sqlalchemy import CursorResult, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.department.guards import refuse_delete_if_referenced
from services.api.department.workflows.schemas import MAX_STEPS, StepFields, ToolIn
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound, Unprocessable
from shared.db.base import utcnow
from shared.department.models import Position, Team, Workflow, WorkflowStep, WorkflowTool


def _owner_refs(prefix: str, position_id: uuid.UUID | None, team_id: uuid.UUID | None) -> dict:
    return {f"{prefix}owner_position_id": (Position, position_id), f"{prefix}owner_team_id": (Team, team_id)}


async def get_workflow(session: AsyncSession, *, workflow_id: uuid.UUID) -> Workflow:
    """The workflow with its steps (in order) and tools loaded: three queries."""
    stmt = (
        select(Workflow)
        .where(Workflow.id == workflow_id)
        .options(selectinload(Workflow.steps), selectinload(Workflow.tools))
        .execution_options(populate_existing=True)
    )
    workflow = await session.scalar(stmt)
    if workflow is None:
        raise NotFound(f"No workflow {workflow_id}.")
    return workflow


async def _lock_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> Workflow:
    """Mark the workflow changed, and by that write hold it until commit.

    An UPDATE rather than SELECT … FOR UPDATE: it locks the row on Postgres and, on SQLite (which has no
    row locks and reads outside a transaction until the first write), takes the database's write lock
    before the steps are read, so a concurrent edit waits and then reads the committed positions.
    """
    touched: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an UPDATE's result
        update(Workflow)
        .where(Workflow.id == workflow_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if touched.rowcount == 0:
        raise NotFound(f"No workflow {workflow_id}.")
    stmt = select(Workflow).where(Workflow.id == workflow_id).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).one()


async def create_workflow(
    session: AsyncSession,
    *,
    name: str,
    description: str | None,
    owner_team_id: uuid.UUID,
    tools: list[ToolIn],
    steps: list[StepFields],
) -> Workflow:
    """A new workflow with its tools and initial steps (positions 1..n in the order given)."""
    refs = {"owner_team_id": (Team, owner_team_id)}
    for i, step in enumerate(steps):
        refs |= _owner_refs(f"steps.{i}.", step.owner_position_id, step.owner_team_id)
    await require_refs(session, refs)
    workflow = Workflow(
        name=name,
        description=description,
        owner_team_id=owner_team_id,
        tools=[WorkflowTool(**tool.model_dump()) for tool in tools],
        steps=[WorkflowStep(seq=i, **step.model_dump()) for i, step in enumerate(steps, start=1)],
    )
    session.add(workflow)
    await session.flush()
    return await get_workflow(session, workflow_id=workflow.id)


async def list_workflows(
    session: AsyncSession, *, page: PageParams, owner_team_id: uuid.UUID | None, tool: str | None
) -> tuple[list[Workflow], dict[uuid.UUID, int], str | None]:
    """A page of workflows with their tools, and their step counts: three queries whatever the page size."""
    stmt = select(Workflow).options(selectinload(Workflow.tools))
    if owner_team_id is not None:
        stmt = stmt.where(Workflow.owner_team_id == owner_team_id)
    if tool:
        using = select(WorkflowTool.workflow_id).where(func.lower(WorkflowTool.name) == tool.lower())
        stmt = stmt.where(Workflow.id.in_(using))
    workflows, next_cursor = await fetch_page(session, stmt, Workflow.id, page)
    counts: dict[uuid.UUID, int] = {}
    if workflows:
        rows = await session.execute(
            select(WorkflowStep.workflow_id, func.count())
            .where(WorkflowStep.workflow_id.in_([w.id for w in workflows]))
            .group_by(WorkflowStep.workflow_id)
        )
        counts = {workflow_id: n for workflow_id, n in rows.all()}
    return workflows, counts, next_cursor


async def _replace_tools(session: AsyncSession, workflow: Workflow, tools: list[ToolIn]) -> None:
    # Delete first, in one statement: the ORM would insert the new rows before deleting the old ones,
    # and a tool kept under the same name would trip the unique (workflow_id, name).
    await session.execute(
        delete(WorkflowTool).where(WorkflowTool.workflow_id == workflow.id).execution_options(synchronize_session=False)
    )
    session.add_all(WorkflowTool(workflow_id=workflow.id, **tool.model_dump()) for tool in tools)


async def update_workflow(session: AsyncSession, *, workflow_id: uuid.UUID, changes: dict[str, Any]) -> Workflow:
    """Change a workflow's fields; `tools`, when sent, replaces the whole set."""
    workflow = await _lock_workflow(session, workflow_id)
    tools = changes.pop("tools", None)
    if "owner_team_id" in changes:
        await require_refs(session, {"owner_team_id": (Team, changes["owner_team_id"])})
    apply_changes(workflow, changes)
    if tools is not None:
        await _replace_tools(session, workflow, [ToolIn.model_validate(t) for t in tools])
    await session.flush()
    return await get_workflow(session, workflow_id=workflow_id)


async def replace_tools(session: AsyncSession, *, workflow_id: uuid.UUID, tools: list[ToolIn]) -> list[WorkflowTool]:
    """Replace the tools a workflow uses with `tools`."""
    workflow = await _lock_workflow(session, workflow_id)
    await _replace_tools(session, workflow, tools)
    await session.flush()
    return (await get_workflow(session, workflow_id=workflow_id)).tools


async def delete_workflow(session: AsyncSession, *, workflow_id: uuid.UUID) -> None:
    """Delete a workflow with its steps and tools (the database cascades them)."""
    workflow = await get_or_404(session, Workflow, workflow_id)
    await refuse_delete_if_referenced(session, workflow)
    await session.delete(workflow)
    await session.flush()


# --- steps ----------------------------------------------------------------------------------------


async def _steps(session: AsyncSession, workflow_id: uuid.UUID) -> list[WorkflowStep]:
    stmt = (
        select(WorkflowStep)
        .where(WorkflowStep.workflow_id == workflow_id)
        .order_by(WorkflowStep.seq)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def list_steps(session: AsyncSession, *, workflow_id: uuid.UUID) -> list[WorkflowStep]:
    """The workflow's steps in order."""
    await get_or_404(session, Workflow, workflow_id)
    return await _steps(session, workflow_id)


async def _renumber(session: AsyncSession, workflow_id: uuid.UUID, steps: list[WorkflowStep], order: list) -> None:
    """Give the steps `order` (their ids) positions 1..n: two UPDATE statements whatever n is.

    The unique (workflow_id, seq) is checked row by row on Postgres (and SQLite), so positions cannot be
    rewritten in place: first every step is lifted above the current maximum, then each gets its final
    place. No row ever takes a position another row still holds, and positions stay >= 1 (a CHECK).
    """
    current = {step.id: step.seq for step in steps}
    if all(current.get(step_id) == place for place, step_id in enumerate(order, start=1)):
        return
    lift = max(current.values(), default=0)
    of_workflow = WorkflowStep.workflow_id == workflow_id
    await session.execute(
        update(WorkflowStep)
        .where(of_workflow)
        .values(seq=WorkflowStep.seq + lift)
        .execution_options(synchronize_session=False)
    )
    places = case({step_id: place for place, step_id in enumerate(order, start=1)}, value=WorkflowStep.id)
    await session.execute(
        update(WorkflowStep).where(of_workflow).values(seq=places).execution_options(synchronize_session=False)
    )


def _place(position: int, *, last: int) -> int:
    if position > last:
        raise Unprocessable(
            f"body.position: {position} is past the end; use 1..{last}",
            errors=[{"location": "body.position", "message": f"must be at most {last}", "type": "less_than_equal"}],
        )
    return position


def _find(steps: list[WorkflowStep], workflow_id: uuid.UUID, step_id: uuid.UUID) -> WorkflowStep:
    step = next((s for s in steps if s.id == step_id), None)
    if step is None:
        raise NotFound(f"No step {step_id} in workflow {workflow_id}.")
    return step


async def _get_step(session: AsyncSession, step_id: uuid.UUID) -> WorkflowStep:
    stmt = select(WorkflowStep).where(WorkflowStep.id == step_id).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).one()


async def add_step(
    session: AsyncSession, *, workflow_id: uuid.UUID, fields: StepFields, position: int | None
) -> WorkflowStep:
    """Insert a step at `position` (later steps shift down one), or append it."""
    await _lock_workflow(session, workflow_id)
    steps = await _steps(session, workflow_id)
    if len(steps) >= MAX_STEPS:
        raise Conflict(f"The workflow already has {MAX_STEPS} steps, the most one workflow may hold.")
    place = _place(position, last=len(steps) + 1) if position is not None else len(steps) + 1
    await require_refs(session, _owner_refs("", fields.owner_position_id, fields.owner_team_id))
    # Stored after every existing position first, then moved into place with the rest.
    step = WorkflowStep(workflow_id=workflow_id, seq=max((s.seq for s in steps), default=0) + 1, **fields.model_dump())
    session.add(step)
    await session.flush()
    order = [s.id for s in steps]
    order.insert(place - 1, step.id)
    await _renumber(session, workflow_id, [*steps, step], order)
    return await _get_step(session, step.id)


async def update_step(
    session: AsyncSession, *, workflow_id: uuid.UUID, step_id: uuid.UUID, changes: dict[str, Any]
) -> WorkflowStep:
    """Change a step's fields; `position` moves it (the steps in between shift)."""
    await _lock_workflow(session, workflow_id)
    steps = await _steps(session, workflow_id)
    step = _find(steps, workflow_id, step_id)
    position_id = changes.get("owner_position_id", step.owner_position_id)
    team_id = changes.get("owner_team_id", step.owner_team_id)
    if position_id is not None and team_id is not None:
        raise Unprocessable(
            "A step is owned by a position or by a team, not both; send the other owner as null to switch.",
            errors=[{"location": "body", "message": "both owners would be set", "type": "one_owner"}],
        )
    await require_refs(session, _owner_refs("", changes.get("owner_position_id"), changes.get("owner_team_id")))
    position = changes.pop("position", None)
    apply_changes(step, changes)
    await session.flush()
    if position is not None:
        place = _place(position, last=len(steps))
        order = [s.id for s in steps if s.id != step.id]
        order.insert(place - 1, step.id)
        await _renumber(session, workflow_id, steps, order)
    return await _get_step(session, step.id)


async def delete_step(session: AsyncSession, *, workflow_id: uuid.UUID, step_id: uuid.UUID) -> None:
    """Delete a step; the steps after it move up one, so positions stay 1..n."""
    await _lock_workflow(session, workflow_id)
    steps = await _steps(session, workflow_id)
    step = _find(steps, workflow_id, step_id)
    await session.delete(step)
    await session.flush()
    rest = [s for s in steps if s.id != step.id]
    await _renumber(session, workflow_id, rest, [s.id for s in rest])


async def reorder_steps(session: AsyncSession, *, workflow_id: uuid.UUID, step_ids: list[uuid.UUID]) -> list:
    """Put the steps in the order of `step_ids`, which must name each of the workflow's steps exactly once."""
    await _lock_workflow(session, workflow_id)
    steps = await _steps(session, workflow_id)
    existing = {s.id for s in steps}
    repeated = {i for i, n in Counter(step_ids).items() if n > 1}
    missing, unknown = existing - set(step_ids), set(step_ids) - existing
    if repeated or missing or unknown:
        problems = [
            *(f"{i} is listed more than once" for i in sorted(repeated, key=str)),
            *(f"{i} is missing" for i in sorted(missing, key=str)),
            *(f"{i} is not a step of this workflow" for i in sorted(unknown, key=str)),
        ]
        raise Unprocessable(
            f"step_ids must list each of the workflow's {len(existing)} steps exactly once: " + "; ".join(problems),
            errors=[{"location": "body.step_ids", "message": p, "type": "step_order"} for p in problems],
        )
    await _renumber(session, workflow_id, steps, step_ids)
    return await _steps(session, workflow_id)
