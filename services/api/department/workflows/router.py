"""Routes: workflows (processes owned by a team), their tools and their ordered steps."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.department.workflows import service as workflows
from services.api.department.workflows.schemas import (
    StepCreate,
    StepFields,
    StepList,
    StepOrder,
    StepOut,
    StepUpdate,
    ToolList,
    ToolOut,
    WorkflowCreate,
    WorkflowOut,
    WorkflowSummary,
    WorkflowToolsPut,
    WorkflowUpdate,
)
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import problem_responses
from services.api.schemas import Page
from shared.department.models import Workflow, WorkflowTool

router = APIRouter()


def _tools(tools: list[WorkflowTool]) -> list[ToolOut]:
    """By name, ignoring case (the same on every database, whatever its collation)."""
    return [ToolOut.model_validate(t) for t in sorted(tools, key=lambda t: (t.name.casefold(), t.name))]


def _detail(workflow: Workflow) -> WorkflowOut:
    return WorkflowOut(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        owner_team_id=workflow.owner_team_id,
        tools=_tools(workflow.tools),
        steps_count=len(workflow.steps),
        steps=[StepOut.model_validate(s) for s in workflow.steps],
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


@router.post("/workflows", status_code=status.HTTP_201_CREATED, response_model=WorkflowOut)
async def create_workflow(body: WorkflowCreate, session: SessionDep, _caller: Editor) -> WorkflowOut:
    """Create a workflow owned by a team, with the tools it uses and, optionally, its first steps in order.

    Unknown team or position ids (the owner team, a step's owner) are a 422 naming the field.
    """
    workflow = await workflows.create_workflow(
        session,
        name=body.name,
        description=body.description,
        owner_team_id=body.owner_team_id,
        tools=body.tools,
        steps=body.steps,
    )
    return _detail(workflow)


@router.get("/workflows", response_model=Page[WorkflowSummary])
async def list_workflows(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    owner_team_id: Annotated[uuid.UUID | None, Query(description="Only workflows this team owns")] = None,
    tool: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only workflows using a tool of this name (any case)"),
    ] = None,
) -> Page[WorkflowSummary]:
    """List workflows, oldest first, with their tools and `steps_count` (the steps: `GET /v1/workflows/{id}`)."""
    found, counts, next_cursor = await workflows.list_workflows(
        session, page=page, owner_team_id=owner_team_id, tool=tool
    )
    items = [
        WorkflowSummary(
            id=w.id,
            name=w.name,
            description=w.description,
            owner_team_id=w.owner_team_id,
            tools=_tools(w.tools),
            steps_count=counts.get(w.id, 0),
            created_at=w.created_at,
            updated_at=w.updated_at,
        )
        for w in found
    ]
    return Page[WorkflowSummary](items=items, next_cursor=next_cursor)


@router.get("/workflows/{workflow_id}", response_model=WorkflowOut)
async def get_workflow(workflow_id: uuid.UUID, session: SessionDep, _caller: Reader) -> WorkflowOut:
    """One workflow by id with its tools (by name) and all its steps in order (`position` 1..n)."""
    return _detail(await workflows.get_workflow(session, workflow_id=workflow_id))


@router.patch("/workflows/{workflow_id}", response_model=WorkflowOut)
async def update_workflow(
    workflow_id: uuid.UUID, body: WorkflowUpdate, session: SessionDep, _caller: Editor
) -> WorkflowOut:
    """Change a workflow's name, description or owner team. `tools`, when sent, replaces the whole set.

    Steps are changed through `/v1/workflows/{id}/steps`.
    """
    changes = body.changes()
    return _detail(await workflows.update_workflow(session, workflow_id=workflow_id, changes=changes))


@router.delete("/workflows/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workflow(workflow_id: uuid.UUID, session: SessionDep, _caller: Editor) -> Response:
    """Delete a workflow together with its steps and its tools (they belong to it: deletion cascades)."""
    await workflows.delete_workflow(session, workflow_id=workflow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- tools ----------------------------------------------------------------------------------------


@router.get("/workflows/{workflow_id}/tools", response_model=ToolList)
async def list_workflow_tools(workflow_id: uuid.UUID, session: SessionDep, _caller: Reader) -> ToolList:
    """The tools a workflow uses, by name."""
    workflow = await workflows.get_workflow(session, workflow_id=workflow_id)
    return ToolList(items=_tools(workflow.tools))


@router.put("/workflows/{workflow_id}/tools", response_model=ToolList)
async def replace_workflow_tools(
    workflow_id: uuid.UUID, body: WorkflowToolsPut, session: SessionDep, _caller: Editor
) -> ToolList:
    """Replace the whole set of tools a workflow uses (`tools: []` removes them all).

    Tool names are unique within a workflow, ignoring case (422 when the list repeats one).
    """
    tools = await workflows.replace_tools(session, workflow_id=workflow_id, tools=body.tools)
    return ToolList(items=_tools(tools))


# --- steps ----------------------------------------------------------------------------------------


@router.get("/workflows/{workflow_id}/steps", response_model=StepList)
async def list_workflow_steps(workflow_id: uuid.UUID, session: SessionDep, _caller: Reader) -> StepList:
    """All of a workflow's steps in order (`position` 1..n). Not paged: a workflow holds at most 200 steps."""
    steps = await workflows.list_steps(session, workflow_id=workflow_id)
    return StepList(items=[StepOut.model_validate(s) for s in steps])


@router.post(
    "/workflows/{workflow_id}/steps",
    status_code=status.HTTP_201_CREATED,
    response_model=StepOut,
    responses=problem_responses(409),
)
async def add_workflow_step(workflow_id: uuid.UUID, body: StepCreate, session: SessionDep, _caller: Editor) -> StepOut:
    """Add a step: at `position` (1 = first; the steps from there on move down one) or, by default, last.

    `position` may be at most one past the last step (422 otherwise). A step is owned by a position
    (`owner_position_id`) or by a team (`owner_team_id`), not both, or by neither yet. A workflow holds at
    most 200 steps (409).
    """
    fields = StepFields.model_validate(body.model_dump(exclude={"position"}))
    step = await workflows.add_step(session, workflow_id=workflow_id, fields=fields, position=body.position)
    return StepOut.model_validate(step)


@router.put("/workflows/{workflow_id}/steps/order", response_model=StepList)
async def reorder_workflow_steps(
    workflow_id: uuid.UUID, body: StepOrder, session: SessionDep, _caller: Editor
) -> StepList:
    """Reorder the steps: `step_ids` lists every step of the workflow exactly once, in the new order.

    A list that misses a step, repeats one or names a step of another workflow is a 422 and changes nothing.
    Returns the steps in their new order.
    """
    steps = await workflows.reorder_steps(session, workflow_id=workflow_id, step_ids=body.step_ids)
    return StepList(items=[StepOut.model_validate(s) for s in steps])


@router.patch("/workflows/{workflow_id}/steps/{step_id}", response_model=StepOut)
async def update_workflow_step(
    workflow_id: uuid.UUID, step_id: uuid.UUID, body: StepUpdate, session: SessionDep, _caller: Editor
) -> StepOut:
    """Change a step; `position` moves it (1..number of steps) and the steps in between shift by one.

    Switching the owner from a team to a position (or back) needs the other owner sent as null in the same
    request: a step never has both (422).
    """
    changes = body.changes()
    step = await workflows.update_step(session, workflow_id=workflow_id, step_id=step_id, changes=changes)
    return StepOut.model_validate(step)


@router.delete("/workflows/{workflow_id}/steps/{step_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workflow_step(
    workflow_id: uuid.UUID, step_id: uuid.UUID, session: SessionDep, _caller: Editor
) -> Response:
    """Delete a step; the steps after it move up one, so positions stay 1..n."""
    await workflows.delete_step(session, workflow_id=workflow_id, step_id=step_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
