"""Each organisation's settings per source: of the ad-platform adapters (which Meta action types count as what),
the default currency of a source's money points (any source, generic ones included), and the optional signing
secret its pushes of an adapter source must be signed with (`X-Hub-Signature-256`, as Meta signs)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.ingest.schemas import SourceKey
from services.api.ingest.sources.schemas import SOURCE_SETTINGS_IN, NoSettingsIn, SourceConfigOut
from services.api.problems import InvalidSignature, NotFound
from shared.ingest.adapters import ADAPTERS, SOURCE_SETTINGS, AdapterConfig, config_for, settings_of
from shared.ingest.models import IngestSourceConfig

_SOURCE_KEY: TypeAdapter[str] = TypeAdapter(SourceKey)


def check_source(source: str) -> None:
    """404 unless an adapter reads this source."""
    if source not in ADAPTERS:
        raise NotFound(f"No adapter for {source!r}; use one of {', '.join(sorted(ADAPTERS))} or /v1/ingest/metrics.")


def check_config_source(source: str) -> None:
    """404 unless the source has a config: an adapter's, or a generic source's key as /v1/ingest/metrics takes it."""
    if source in ADAPTERS:
        return
    try:
        _SOURCE_KEY.validate_python(source)
    except ValidationError:
        raise NotFound(
            f"No source {source!r}: a source is an adapter ({', '.join(sorted(ADAPTERS))}) or the `source` of "
            "/v1/ingest/metrics batches (a lower-case letter, then up to 31 lower-case letters, digits or _)."
        ) from None


SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True)
class SourceSetup:
    config: AdapterConfig  # what the adapter reads the organisation's reports with
    signing_secret: str | None  # set: pushes must be signed
    default_currency: str | None = None  # of money points that state no currency


async def source_setup(session: AsyncSession, *, source: str) -> SourceSetup:
    """The organisation's settings over the defaults, and its signing secret if it set one (one query)."""
    row = (
        await session.execute(
            select(
                IngestSourceConfig.settings, IngestSourceConfig.signing_secret, IngestSourceConfig.default_currency
            ).where(IngestSourceConfig.source == source)
        )
    ).first()
    settings, secret, currency = row if row is not None else ({}, None, None)
    return SourceSetup(config_for(source, settings or {}), secret, currency)


def signature_of(secret: str, body: bytes) -> str:
    """The header value a push of this body carries: `sha256=` + hex HMAC-SHA256 under the secret."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """401 unless the header is the body's signature under the secret (compared in constant time)."""
    if not header:
        raise InvalidSignature(
            f"This organisation requires signed pushes of this source: send {SIGNATURE_HEADER}: "
            "sha256=<hex HMAC-SHA256 of the raw body under the source's signing secret>."
        )
    if not hmac.compare_digest(header.strip().lower().encode(), signature_of(secret, body).encode()):
        raise InvalidSignature(
            f"{SIGNATURE_HEADER} does not match the body: sign the exact bytes sent, with the source's current "
            "signing secret, as sha256=<hex>."
        )


async def get_config(session: AsyncSession, *, source: str) -> SourceConfigOut:
    """The source's settings in force for the organisation; reading never stores anything."""
    check_config_source(source)
    row = await session.scalar(select(IngestSourceConfig).where(IngestSourceConfig.source == source))
    return _out(source, row)


async def put_config(session: AsyncSession, *, source: str, body: dict[str, Any]) -> SourceConfigOut:
    """Replace the organisation's settings of one source; a setting left out (or null) follows the default, and
    the default currency left out (or null) is none."""
    check_config_source(source)
    model = SOURCE_SETTINGS_IN.get(source, NoSettingsIn)
    try:
        config = model.model_validate(body)
    except ValidationError as exc:
        # The same 422 as a typed body gets, locations under `body`.
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from exc
    row = await _row_for_update(session, source)
    row.settings = config.model_dump(exclude_none=True, exclude={"default_currency"})
    row.default_currency = config.default_currency
    await session.flush()
    return _out(source, row)


async def set_signing_secret(session: AsyncSession, *, source: str, secret: str | None) -> str:
    """Require signed pushes of this source from now on, under the given secret or a generated one; returns it."""
    check_source(source)
    secret = secret or secrets.token_urlsafe(32)
    row = await _row_for_update(session, source)
    row.signing_secret = secret
    await session.flush()
    return secret


async def clear_signing_secret(session: AsyncSession, *, source: str) -> None:
    """Stop requiring signatures on this source's pushes."""
    check_source(source)
    row = await session.scalar(select(IngestSourceConfig).where(IngestSourceConfig.source == source).with_for_update())
    if row is None or row.signing_secret is None:
        raise NotFound(f"Pushes of {source!r} need no signature; there is no signing secret to remove.")
    row.signing_secret = None
    await session.flush()


async def _row_for_update(session: AsyncSession, source: str) -> IngestSourceConfig:
    row = await session.scalar(select(IngestSourceConfig).where(IngestSourceConfig.source == source).with_for_update())
    if row is None:
        row = IngestSourceConfig(source=source, settings={})
        session.add(row)
    return row


def _out(source: str, row: IngestSourceConfig | None) -> SourceConfigOut:
    stored = row.settings if row is not None else {}
    return SourceConfigOut(
        source=source,
        settings=settings_of(source, config_for(source, stored)),
        customised=sorted(name for name in stored if name in SOURCE_SETTINGS.get(source, {})),
        default_currency=row.default_currency if row is not None else None,
        signature_required=row is not None and row.signing_secret is not None,
        updated_at=row.updated_at if row is not None else None,
    )
