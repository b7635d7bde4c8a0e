"""Routes: plans, campaigns, budgets, budget lines, reallocations and the budget report."""

from fastapi import APIRouter

from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", tags=["plans & budgets"], responses=V1_ERRORS)
