"""Every table of the service, imported in one place so Alembic and the tests see the whole schema."""

from shared.db.base import Base
from shared.department.models import Department, Member, Position, Team, Workflow, WorkflowStep, WorkflowTool
from shared.ingest.models import IngestBatch, MetricPoint
from shared.kpis.models import (
    Kpi,
    KpiMetric,
    KpiTarget,
    KpiTargetRevision,
    MetricDaily,
    MetricDefinition,
    ObjectiveKpi,
)
from shared.orgs.models import ApiKey, Org
from shared.plans.models import Budget, BudgetLine, BudgetReallocation, Campaign, Plan
from shared.strategy.models import BusinessGoal, Competitor, Objective, Segment

__all__ = [
    "ApiKey",
    "Base",
    "Budget",
    "BudgetLine",
    "BudgetReallocation",
    "BusinessGoal",
    "Campaign",
    "Competitor",
    "Department",
    "IngestBatch",
    "Kpi",
    "KpiMetric",
    "KpiTarget",
    "KpiTargetRevision",
    "Member",
    "MetricDaily",
    "MetricDefinition",
    "MetricPoint",
    "Objective",
    "ObjectiveKpi",
    "Org",
    "Plan",
    "Position",
    "Segment",
    "Team",
    "Workflow",
    "WorkflowStep",
    "WorkflowTool",
]
