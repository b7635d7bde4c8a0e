"""Every table of the service, imported in one place so Alembic and the tests see the whole schema."""

from shared.alerts.models import Alert, KpiEvaluation, KpiTargetState
from shared.db.base import Base
from shared.department.models import Department, Member, Position, Team, Workflow, WorkflowStep, WorkflowTool
from shared.ingest.models import IngestBatch, IngestSourceConfig
from shared.kpis.models import Kpi, KpiMetric, KpiTarget, KpiTargetRevision, ObjectiveKpi
from shared.metrics.models import MetricDaily, MetricDefinition, MetricPoint, MetricSlice, MetricSource
from shared.money.models import FxRate
from shared.orgs.models import ApiKey, Org, OrgSettingChange
from shared.plans.models import Budget, BudgetLine, BudgetReallocation, Campaign, Plan
from shared.strategy.models import BusinessGoal, Competitor, Objective, Segment
from shared.webhooks.channels.models import NotificationChannel, NotificationRouting, Silence
from shared.webhooks.models import OperatorEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Alert",
    "ApiKey",
    "Base",
    "Budget",
    "BudgetLine",
    "BudgetReallocation",
    "BusinessGoal",
    "Campaign",
    "Competitor",
    "Department",
    "FxRate",
    "IngestBatch",
    "IngestSourceConfig",
    "Kpi",
    "KpiEvaluation",
    "KpiMetric",
    "KpiTarget",
    "KpiTargetRevision",
    "KpiTargetState",
    "Member",
    "MetricDaily",
    "MetricDefinition",
    "MetricPoint",
    "MetricSlice",
    "MetricSource",
    "NotificationChannel",
    "NotificationRouting",
    "Objective",
    "ObjectiveKpi",
    "OperatorEvent",
    "Org",
    "OrgSettingChange",
    "Plan",
    "Position",
    "Segment",
    "Silence",
    "Team",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Workflow",
    "WorkflowStep",
    "WorkflowTool",
]
