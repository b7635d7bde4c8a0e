"""Routes of the KPI domain: the metric catalogue, KPI templates, KPIs, and their targets."""

from fastapi import APIRouter

from services.api.kpis.kpis_router import router as kpis_router
from services.api.kpis.metrics_router import router as metrics_router
from services.api.kpis.targets_router import router as targets_router
from services.api.problems import V1_ERRORS

router = APIRouter(prefix="/v1", responses=V1_ERRORS)
# Sub-routers (metrics, templates, KPIs, targets) are included below as they are written.
router.include_router(metrics_router)
router.include_router(kpis_router)
router.include_router(targets_router)
