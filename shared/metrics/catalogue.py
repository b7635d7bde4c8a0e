"""The standard metric catalogue every organisation starts with, and how a new organisation gets it."""

from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import uuid7
from shared.metrics.aggregation import Aggregation
from shared.metrics.models import MetricDefinition


@dataclass(frozen=True)
class StandardMetric:
    key: str
    name: str
    unit: str
    aggregation: Aggregation
    description: str
    allowed_dimensions: tuple[str, ...] = ("channel", "campaign")


STANDARD_METRICS: tuple[StandardMetric, ...] = (
    StandardMetric("spend", "Spend", "currency", Aggregation.sum, "Money spent on media and tools"),
    StandardMetric("impressions", "Impressions", "count", Aggregation.sum, "Times an ad was shown"),
    StandardMetric("reach", "Reach", "count", Aggregation.sum, "People who saw an ad (per day, as reported)"),
    StandardMetric("clicks", "Clicks", "count", Aggregation.sum, "Clicks on ads or links"),
    StandardMetric("conversions", "Conversions", "count", Aggregation.sum, "Purchases or sign-ups attributed"),
    StandardMetric("revenue", "Revenue", "currency", Aggregation.sum, "Revenue attributed to marketing"),
    StandardMetric("leads", "Leads", "count", Aggregation.sum, "Contacts who expressed interest"),
    StandardMetric("mql", "Marketing-qualified leads", "count", Aggregation.sum, "Leads marketing deems ready"),
    StandardMetric("sql", "Sales-qualified leads", "count", Aggregation.sum, "Leads sales accepted"),
    StandardMetric("new_customers", "New customers", "count", Aggregation.sum, "Customers won in the period"),
    StandardMetric(
        "customer_lifetime_value",
        "Customer lifetime value",
        "currency",
        Aggregation.avg,
        "Expected gross margin from a customer over the relationship",
        ("channel", "segment"),
    ),
    StandardMetric(
        "nps_score", "Net promoter score", "score", Aggregation.avg, "NPS from surveys (-100 to 100)", ("segment",)
    ),
    StandardMetric(
        "survey_awareness",
        "Aided brand awareness",
        "percent",
        Aggregation.avg,
        "Share of surveyed people who know the brand, in %",
        ("segment", "region"),
    ),
    StandardMetric(
        "brand_mentions",
        "Brand mentions",
        "count",
        Aggregation.sum,
        "Mentions of our brand (social listening)",
        ("channel",),
    ),
    StandardMetric(
        "category_mentions",
        "Category mentions",
        "count",
        Aggregation.sum,
        "Mentions of all brands of the category (social listening)",
        ("channel",),
    ),
)


async def seed_standard_metrics(session: AsyncSession, *, org_id) -> None:
    """Insert every standard metric for the organisation; the org's own metrics are added later via the API."""
    rows = [
        {
            "id": uuid7(),
            "org_id": org_id,
            "key": m.key,
            "name": m.name,
            "description": m.description,
            "unit": m.unit,
            "aggregation": m.aggregation,
            "allowed_dimensions": list(m.allowed_dimensions),
            "standard": True,
        }
        for m in STANDARD_METRICS
    ]
    await session.execute(insert(MetricDefinition), rows)
