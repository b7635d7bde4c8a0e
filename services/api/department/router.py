"""Routes: the department, teams, positions, members, overview and workflows."""

from fastapi import APIRouter

from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", tags=["department"], responses=V1_ERRORS)
