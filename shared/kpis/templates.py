"""The library of KPI templates: ready-made KPIs over the standard metrics (shared/metrics/catalogue.py)."""

from dataclasses import dataclass

from shared.kpis.evaluation import Direction, Pacing


@dataclass(frozen=True)
class KpiTemplate:
    key: str
    name: str
    category: str
    formula: str
    unit: str
    direction: Direction
    pacing: Pacing
    display_format: str
    explanation: str


KPI_TEMPLATES: tuple[KpiTemplate, ...] = (
    KpiTemplate(
        "cpm",
        "CPM",
        "output",
        "spend / impressions * 1000",
        "currency",
        Direction.lower_is_better,
        Pacing.none,
        "currency:2",
        "Cost per thousand impressions: what reach costs.",
    ),
    KpiTemplate(
        "cpc",
        "CPC",
        "output",
        "spend / clicks",
        "currency",
        Direction.lower_is_better,
        Pacing.none,
        "currency:2",
        "Cost per click: what a visit from an ad costs.",
    ),
    KpiTemplate(
        "ctr",
        "CTR",
        "output",
        "clicks / impressions * 100",
        "percent",
        Direction.higher_is_better,
        Pacing.none,
        "percent:2",
        "Click-through rate: the share of impressions that were clicked.",
    ),
    KpiTemplate(
        "cpa",
        "CPA",
        "output",
        "spend / conversions",
        "currency",
        Direction.lower_is_better,
        Pacing.none,
        "currency:2",
        "Cost per acquisition: spend for each conversion.",
    ),
    KpiTemplate(
        "cpl",
        "CPL",
        "output",
        "spend / leads",
        "currency",
        Direction.lower_is_better,
        Pacing.none,
        "currency:2",
        "Cost per lead: spend for each lead.",
    ),
    KpiTemplate(
        "conversion_rate",
        "Conversion rate",
        "output",
        "conversions / clicks * 100",
        "percent",
        Direction.higher_is_better,
        Pacing.none,
        "percent:2",
        "Share of clicks that converted.",
    ),
    KpiTemplate(
        "roas",
        "ROAS",
        "impact",
        "revenue / spend",
        "ratio",
        Direction.higher_is_better,
        Pacing.none,
        "ratio:2",
        "Return on ad spend: revenue for each unit of spend.",
    ),
    KpiTemplate(
        "cac",
        "CAC",
        "impact",
        "spend / new_customers",
        "currency",
        Direction.lower_is_better,
        Pacing.none,
        "currency:2",
        "Customer acquisition cost: spend for each new customer.",
    ),
    KpiTemplate(
        "ltv_cac",
        "LTV:CAC",
        "impact",
        "customer_lifetime_value / (spend / new_customers)",
        "ratio",
        Direction.higher_is_better,
        Pacing.none,
        "ratio:1",
        "Lifetime value per unit of acquisition cost; 3 or more is the usual aim.",
    ),
    KpiTemplate(
        "mql_to_sql",
        "MQL→SQL rate",
        "output",
        "sql / mql * 100",
        "percent",
        Direction.higher_is_better,
        Pacing.none,
        "percent:1",
        "Share of marketing-qualified leads that sales accepted.",
    ),
    KpiTemplate(
        "marketing_revenue",
        "Marketing-sourced revenue",
        "impact",
        "revenue",
        "currency",
        Direction.higher_is_better,
        Pacing.linear,
        "currency:0",
        "Revenue attributed to marketing; cumulative over the period.",
    ),
    KpiTemplate(
        "share_of_voice",
        "Share of voice",
        "impact",
        "brand_mentions / category_mentions * 100",
        "percent",
        Direction.higher_is_better,
        Pacing.none,
        "percent:1",
        "Our mentions as a share of all mentions in the category.",
    ),
    KpiTemplate(
        "nps",
        "NPS",
        "impact",
        "nps_score",
        "score",
        Direction.higher_is_better,
        Pacing.none,
        "score:0",
        "Net promoter score from customer surveys.",
    ),
    KpiTemplate(
        "brand_awareness",
        "Brand awareness",
        "impact",
        "survey_awareness",
        "percent",
        Direction.higher_is_better,
        Pacing.none,
        "percent:0",
        "Aided awareness from brand surveys (qualitative KPI entered by hand or pushed).",
    ),
    KpiTemplate(
        "media_spend",
        "Media spend",
        "input",
        "spend",
        "currency",
        Direction.lower_is_better,
        Pacing.linear,
        "currency:0",
        "Money invested, paced through the period: above the pace is overspend.",
    ),
    KpiTemplate(
        "leads_generated",
        "Leads generated",
        "output",
        "leads",
        "count",
        Direction.higher_is_better,
        Pacing.linear,
        "count:0",
        "Leads in the period; cumulative, paced through the period.",
    ),
)
TEMPLATES_BY_KEY = {t.key: t for t in KPI_TEMPLATES}
