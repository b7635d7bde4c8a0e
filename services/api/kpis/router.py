"""Routes of the KPI domain: definitions (with templates), targets (with revisions), and values (series,
suggested targets, objective progress). The metric catalogue has its own folder, `services/api/metrics/`."""

from fastapi import APIRouter

from services.api.kpis.definitions.router import router as definitions_router
from services.api.kpis.targets.router import router as targets_router
from services.api.kpis.values.router import router as values_router
from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", responses=V1_ERRORS)
router.include_router(definitions_router)
router.include_router(targets_router)
router.include_router(values_router)
