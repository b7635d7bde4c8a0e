"""Each organisation's settings of the ad-platform adapters (which Meta action types count as what)."""

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.ingest.schemas import SOURCE_SETTINGS_IN, NoSettingsIn, SourceConfigOut
from services.api.problems import NotFound
from shared.ingest.adapters import ADAPTERS, SOURCE_SETTINGS, AdapterConfig, config_for, settings_of
from shared.ingest.models import IngestSourceConfig


def check_source(source: str) -> None:
    """404 unless an adapter reads this source."""
    if source not in ADAPTERS:
        raise NotFound(f"No adapter for {source!r}; use one of {', '.join(sorted(ADAPTERS))} or /v1/ingest/metrics.")


async def adapter_config(session: AsyncSession, *, source: str) -> AdapterConfig:
    """The config the source's adapter reads this organisation's reports with: its settings over the defaults."""
    stored = await session.scalar(select(IngestSourceConfig.settings).where(IngestSourceConfig.source == source))
    return config_for(source, stored or {})


async def get_config(session: AsyncSession, *, source: str) -> SourceConfigOut:
    """The source's settings in force for the organisation; reading never stores anything."""
    check_source(source)
    row = await session.scalar(select(IngestSourceConfig).where(IngestSourceConfig.source == source))
    return _out(source, row)


async def put_config(session: AsyncSession, *, source: str, body: dict[str, Any]) -> SourceConfigOut:
    """Replace the organisation's settings of one source; a setting left out (or null) follows the default."""
    check_source(source)
    model = SOURCE_SETTINGS_IN.get(source, NoSettingsIn)
    try:
        settings = model.model_validate(body).model_dump(exclude_none=True)
    except ValidationError as exc:
        # The same 422 as a typed body gets, locations under `body`.
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from exc
    row = await session.scalar(select(IngestSourceConfig).where(IngestSourceConfig.source == source).with_for_update())
    if row is None:
        row = IngestSourceConfig(source=source)
        session.add(row)
    row.settings = settings
    await session.flush()
    return _out(source, row)


def _out(source: str, row: IngestSourceConfig | None) -> SourceConfigOut:
    stored = row.settings if row is not None else {}
    return SourceConfigOut(
        source=source,
        settings=settings_of(source, config_for(source, stored)),
        customised=sorted(name for name in stored if name in SOURCE_SETTINGS.get(source, {})),
        updated_at=row.updated_at if row is not None else None,
    )
