"""Routes: organisation bootstrap and API key management."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import Admin, SessionDep, require_platform_token
from services.api.orgs import service
from services.api.orgs.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, OrgCreate, OrgCreated, OrgOut
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
