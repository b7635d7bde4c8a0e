"""The metric store: what sources report and what KPIs, plans and reports read.

- `models`: the catalogue of metric definitions, the stored points (one row per metric, day, dimension set and
  source) and their daily roll-ups;
- `keys`: the canonical key of a dimension set;
- `aggregation`: how a metric's days are reduced over a window (pure);
- `queries`: windows of metrics read from the roll-ups, spend by matcher, recent sources;
- `catalogue`: the standard metrics every organisation starts with.

Ingestion writes the store (shared/ingest/merge.py); everything else reads it through `queries`.
"""
