"""Routes: the department, teams, positions, members, overview and workflows.

This module holds the department itself and its overview; teams, positions, members and workflows have their own
folders, whose routers are included into `router` below.
"""

from fastapi import APIRouter, Response, status

from services.api.department import service
from services.api.department.members.router import router as members_router
from services.api.department.positions.router import router as positions_router
from services.api.department.schemas import DepartmentOut, DepartmentOverview, DepartmentPut
from services.api.department.teams.router import router as teams_router
from services.api.department.workflows.router import router as workflows_router
from services.api.deps import Editor, Reader, SessionDep
from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", tags=["department"], responses=V1_ERRORS)


@router.get("/department", response_model=DepartmentOut)
async def get_department(session: SessionDep, _caller: Reader) -> DepartmentOut:
    """The organisation's marketing department: name, structure type and mission.

    Before the first `PUT /v1/department` this answers 200 with `configured: false` and every other
    field null; reading never creates the department.
    """
    return service.department_out(await service.get_department(session))


@router.put(
    "/department",
    response_model=DepartmentOut,
    responses={201: {"model": DepartmentOut, "description": "The department was created"}},
)
async def put_department(
    body: DepartmentPut, session: SessionDep, _caller: Editor, response: Response
) -> DepartmentOut:
    """Create or replace the department (one per organisation). Fields left out are cleared.

    Answers 201 when this call created the department, 200 when it replaced it.
    """
    department, created = await service.put_department(
        session, name=body.name, structure_type=body.structure_type, mission=body.mission
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return service.department_out(department)


@router.get("/department/overview", response_model=DepartmentOverview)
async def get_department_overview(session: SessionDep, _caller: Reader) -> DepartmentOverview:
    """The whole department in one call: the department, its team tree and headcounts.

    `teams` holds the top-level teams, each with its subteams nested under `children` (siblings sorted by
    name). Every team carries `headcount` (its own positions: `filled`, `open`, `total`) and
    `headcount_with_subteams` (the same, including every team below it). `totals` counts the whole
    department, including members who hold no position. The answer costs the same few queries whatever
    the number of teams.
    """
    return await service.overview(session)


router.include_router(teams_router)
router.include_router(positions_router)
router.include_router(members_router)
router.include_router(workflows_router)
