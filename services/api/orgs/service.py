"""Organisations and API keys: creation, lookup, listing and revocation."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.orgs.keys import generate_key, secret_matches, split_key
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict, NotFound
from shared.alerts.notices import schedule_next
from shared.db.base import utcnow
from shared.db.scoping import bind_org
from shared.jobs.handles import EVALUATE_KPIS
from shared.kpis.models import KpiTarget
from shared.metrics.catalogue import seed_standard_metrics
from shared.orgs.clock import local_today, remember_zone
from shared.orgs.models import ApiKey, Org, OrgSettingChange, Role
from shared.webhooks.channels.models import NotificationChannel

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
    stmt = (
        select(ApiKey, Org.time_zone)
        .join(Org, Org.id == ApiKey.org_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    )
    # The one query that may look across orgs: the org is what we are about to learn.
    found = (await session.execute(stmt.execution_options(all_orgs=True))).first()
    if found is None or not secret_matches(secret, found[0].secret_hash):
        return None
    key, time_zone = found
    remember_zone(session, key.org_id, time_zone)  # "today" is the organisation's: known without another query
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


# ---------------------------------------------------------------- the organisation's settings

# What a change of each setting affects, in words: recorded with the change and answered to the admin who made it.
EFFECTS = {
    "time_zone": (
        "Points with a timestamp pushed from now on are bucketed into local days in {new}; points already stored "
        "keep their days. Today, pacing, current periods, scheduled evaluations, period close, reminders and "
        "dashboard defaults now use the date in {new}; notification quiet hours and digest times are read as "
        "local times in {new}."
    ),
    "reporting_currency": (
        "KPI values and reports in money are converted into {new} at each day's rate from now on (KPIs are "
        "re-evaluated now; a day whose money has no rate into {new} has no value until the rate is given: "
        "PUT /v1/fx-rates). Targets and thresholds of money KPIs are plain numbers and are not converted: they "
        "are now read as {new}, so revise those set in {old}. Budgets keep their own currency."
    ),
}


async def get_org(session: AsyncSession, *, org_id: uuid.UUID) -> Org:
    """The caller's organisation."""
    org = await session.get(Org, org_id)
    if org is None:  # its key authenticated a moment ago: only a concurrent deletion gets here
        raise NotFound(f"No organisation {org_id}.")
    return org


async def update_org(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    changes: dict[str, Any],
    by_key_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[Org, list[OrgSettingChange]]:
    """Change the organisation's name, time zone or reporting currency. Each setting that really changes is recorded
    with what it affects, and the organisation's current KPI targets are evaluated again after the commit."""
    # Locked: two admins changing the zone at once record two changes from the value each really replaced.
    org = await session.scalar(select(Org).where(Org.id == org_id).with_for_update())
    if org is None:
        raise NotFound(f"No organisation {org_id}.")
    if "name" in changes:
        org.name = changes["name"]
    old_zone = org.time_zone
    recorded = []
    for setting in EFFECTS:
        old, new = getattr(org, setting), changes.get(setting)
        if new is None or new == old:
            continue
        setattr(org, setting, new)
        change = OrgSettingChange(
            setting=setting,
            old_value=old,
            new_value=new,
            effects=EFFECTS[setting].format(new=new, old=old),
            by_key_id=by_key_id,
        )
        session.add(change)
        recorded.append(change)
    remember_zone(session, org.id, org.time_zone)
    if org.time_zone != old_zone:
        await _reschedule_digests(session, org.time_zone, now or datetime.now(UTC))
    await session.flush()
    if recorded:
        since = min(local_today(old_zone, now), local_today(org.time_zone, now))
        await _evaluate_current_targets(session, org, since=since)
    return org, recorded


async def _reschedule_digests(session: AsyncSession, time_zone: str, now: datetime) -> None:
    """Digests keep their local time (09:00 stays 09:00) in the new zone: each channel's next one moves."""
    for channel in await session.scalars(
        select(NotificationChannel).where(NotificationChannel.digest_frequency.is_not(None))
    ):
        schedule_next(channel, time_zone, now)


async def _evaluate_current_targets(session: AsyncSession, org: Org, *, since: date) -> None:
    """After the commit, evaluate again every target that reaches today (in the old zone or the new): its day,
    pacing or money changed with the settings. Judged as the schedule would (its state machine is kept)."""
    kpi_ids = list(await session.scalars(select(KpiTarget.kpi_id).where(KpiTarget.end_date >= since).distinct()))
    if kpi_ids:
        EVALUATE_KPIS.defer(
            session,
            org_id=str(org.id),
            kpi_ids=sorted(str(k) for k in kpi_ids),
            since=since.isoformat(),
            trigger="schedule",
        )


async def list_setting_changes(session: AsyncSession, *, page: PageParams) -> tuple[list[OrgSettingChange], str | None]:
    """The organisation's setting changes, oldest first."""
    return await fetch_page(session, select(OrgSettingChange), OrgSettingChange.id, page)
