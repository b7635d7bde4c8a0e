"""Native ad-platform adapters: a reporting API's payload (or an ETL tool's relay of it) → snapshot points.

Pure functions, no I/O. Each takes the decoded JSON and the organisation's `AdapterConfig` and returns the
points, or raises `AdapterError(message, location)`, and nothing else, whatever the JSON. Field mappings,
units and defaults: docs/domains/ingest-adapters.md.
"""

from collections.abc import Callable
from typing import Any

from shared.ingest.adapters._common import (
    DEFAULT_CONFIG,
    LEAD_TYPES,
    PURCHASE_TYPES,
    SOURCE_SETTINGS,
    AdapterConfig,
    config_for,
    settings_of,
)
from shared.ingest.adapters.google_ads import count_google_ads_rows, parse_google_ads
from shared.ingest.adapters.linkedin import count_linkedin_rows, parse_linkedin
from shared.ingest.adapters.meta import count_meta_rows, parse_meta
from shared.ingest.adapters.tiktok import count_tiktok_rows, parse_tiktok
from shared.ingest.points import Point

Adapter = Callable[[Any, AdapterConfig], list[Point]]

ADAPTERS: dict[str, Adapter] = {
    "meta": parse_meta,
    "google_ads": parse_google_ads,
    "tiktok": parse_tiktok,
    "linkedin": parse_linkedin,
}

# How many rows a payload carries, counted without reading any, so an oversized report is refused before parsing.
ROW_COUNTS: dict[str, Callable[[Any], int]] = {
    "meta": count_meta_rows,
    "google_ads": count_google_ads_rows,
    "tiktok": count_tiktok_rows,
    "linkedin": count_linkedin_rows,
}

__all__ = [
    "ADAPTERS",
    "DEFAULT_CONFIG",
    "LEAD_TYPES",
    "PURCHASE_TYPES",
    "ROW_COUNTS",
    "SOURCE_SETTINGS",
    "Adapter",
    "AdapterConfig",
    "config_for",
    "parse_google_ads",
    "parse_linkedin",
    "parse_meta",
    "parse_tiktok",
    "settings_of",
]
