"""Routes: organisation bootstrap and API key management."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import Admin, AnyKey, SessionDep, require_platform_token
from services.api.orgs import service
from services.api.orgs.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    OrgCreate,
    OrgCreated,
    OrgOut,
    OrgUpdate,
    OrgUpdated,
    SettingChange,
    SettingChangeOut,
)
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Page
from shared.orgs.models import Role

router = APIRouter(prefix="/v1", tags=["organisations & API keys"], responses=V1_ERRORS)


def _created_key(key, plaintext: str) -> ApiKeyCreated:
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=plaintext)


@router.post(
    "/orgs",
    status_code=status.HTTP_201_CREATED,
    response_model=OrgCreated,
    dependencies=[Depends(require_platform_token)],
)
async def create_org(body: OrgCreate, session: SessionDep) -> OrgCreated:
    """Create an organisation and its first **admin** API key (needs `X-Platform-Token`).

    The key is in the response this once; store it now, only its hash is kept.
    """
    org, key, plaintext = await service.create_org(
        session, name=body.name, time_zone=body.time_zone, reporting_currency=body.reporting_currency
    )
    return OrgCreated(org=OrgOut.model_validate(org), api_key=_created_key(key, plaintext))


@router.get("/org", response_model=OrgOut)
async def read_org(session: SessionDep, caller: AnyKey) -> OrgOut:
    """Read your organisation (any key): its name, its time zone (its days, "today" and periods are local days
    there) and its reporting currency (KPI values and reports in money are in it)."""
    return OrgOut.model_validate(await service.get_org(session, org_id=caller.org_id))


@router.patch("/org", response_model=OrgUpdated)
async def update_org(body: OrgUpdate, session: SessionDep, caller: Admin) -> OrgUpdated:
    """Change your organisation's name, time zone or reporting currency (admin only); send only what changes.

    Each setting that changes is recorded (`GET /v1/org/changes`) and listed in `changes` with what it affects, in
    words. A new **time zone** applies from now on: timestamped points pushed afterwards fall into local days there,
    points already stored keep their days; today, pacing, current periods, scheduled evaluations, the period close,
    reminders and the dashboard's defaults use the new local date at once. A new **reporting currency** converts
    KPI values and reports in money from now on; budgets keep their own currency. After either, the organisation's
    current KPI targets are evaluated again. An unknown zone or currency is a 422 naming the field.
    """
    org, recorded = await service.update_org(
        session, org_id=caller.org_id, changes=body.changes(), by_key_id=caller.key_id
    )
    changes = [SettingChange.model_validate(change) for change in recorded]
    return OrgUpdated(**OrgOut.model_validate(org).model_dump(), changes=changes)


@router.get("/org/changes", response_model=Page[SettingChangeOut])
async def list_org_changes(session: SessionDep, _caller: Admin, page: PageDep) -> Page[SettingChangeOut]:
    """List the changes of your organisation's time zone and reporting currency (admin only), oldest first: from
    what to what, by which key, when, and what each affects."""
    changes, next_cursor = await service.list_setting_changes(session, page=page)
    return Page[SettingChangeOut](items=[SettingChangeOut.model_validate(c) for c in changes], next_cursor=next_cursor)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, caller: Admin) -> ApiKeyCreated:
    """Create an API key with a role for your organisation (admin only). The key is shown this once."""
    key, plaintext = await service.issue_key(session, name=body.name, role=body.role, created_by=caller.key_id)
    return _created_key(key, plaintext)


@router.get("/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(
    session: SessionDep,
    _caller: Admin,
    page: PageDep,
    role: Annotated[Role | None, Query(description="Only keys with this role")] = None,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys")] = False,
) -> Page[ApiKeyOut]:
    """List your organisation's API keys (admin only), oldest first. Secrets are never returned."""
    keys, next_cursor = await service.list_keys(session, page=page, role=role, include_revoked=include_revoked)
    return Page[ApiKeyOut](items=[ApiKeyOut.model_validate(k) for k in keys], next_cursor=next_cursor)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(409))
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep, _caller: Admin) -> Response:
    """Revoke an API key (admin only). It stops working at once; it stays listed with `include_revoked`.

    Revoking the organisation's last active admin key is refused with 409.
    """
    await service.revoke_key(session, key_id=key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
