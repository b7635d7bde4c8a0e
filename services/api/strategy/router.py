"""Routes: business goals, objectives (with their SMART check), segments and competitors."""

from fastapi import APIRouter

from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", tags=["strategy"], responses=V1_ERRORS)
