"""Organisations and API keys: creation, lookup, listing and revocation."""

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.orgs.keys import generate_key, secret_matches, split_key
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound
from shared.db.base import utcnow
from shared.db.scoping import bind_org
from shared.metrics.catalogue import seed_standard_metrics
from shared.orgs.models import ApiKey, Org, Role

# Recording every use would turn each read into a write; once a minute is precise enough to audit keys.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create_org(
    session: AsyncSession, *, name: str, time_zone: str = "UTC", reporting_currency: str = "USD"
) -> tuple[Org, ApiKey, str]:
    """Create an organisation with the standard metric catalogue and its first admin key (plaintext once)."""
    org = Org(name=name, time_zone=time_zone, reporting_currency=reporting_currency)
    session.add(org)
    await session.flush()
    bind_org(session, org.id)
    await seed_standard_metrics(session, org_id=org.id)
    key, plaintext = await issue_key(session, name="admin (bootstrap)", role=Role.admin, created_by=None)
    return org, key, plaintext


async def issue_key(
    session: AsyncSession, *, name: str, role: Role, created_by: uuid.UUID | None
) -> tuple[ApiKey, str]:
    """A new key for the session's organisation; the plaintext is returned once and never stored."""
    new = generate_key()
    key = ApiKey(name=name, role=role, prefix=new.prefix, secret_hash=new.secret_hash, created_by_key_id=created_by)
    session.add(key)
    await session.flush()
    return key, new.plaintext


async def find_key_by_token(session: AsyncSession, *, token: str) -> ApiKey | None:
    """The active key a bearer token names, or None; marks it used."""
    parts = split_key(token)
    if parts is None:
        return None
    prefix, secret = parts
    stmt = select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    # The one query that may look across orgs: the org is what we are about to learn.
    key = await session.scalar(stmt.execution_options(all_orgs=True))
    if key is None or not secret_matches(secret, key.secret_hash):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


async def list_keys(
    session: AsyncSession, *, page: PageParams, role: Role | None, include_revoked: bool
) -> tuple[list[ApiKey], str | None]:
    """The organisation's keys, oldest first."""
    stmt = select(ApiKey)
    if role is not None:
        stmt = stmt.where(ApiKey.role == role)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return await fetch_page(session, stmt, ApiKey.id, page)


async def get_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    return key


async def revoke_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (kept for the audit trail); the last active admin key cannot be revoked."""
    key = await get_key(session, key_id=key_id)
    if key.revoked_at is not None:
        return key
    if key.role == Role.admin:
        # Lock the org's admin keys so two concurrent revocations cannot both pass the check.
        admins = select(ApiKey.id).where(ApiKey.role == Role.admin, ApiKey.revoked_at.is_(None))
        active_admins = len((await session.scalars(admins.with_for_update())).all())
        if active_admins <= 1:
            raise Conflict("This is the organisation's last active admin key; create another admin key first.")
    key.revoked_at = utcnow()
    await session.flush()
    return key
