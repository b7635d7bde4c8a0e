"""Request dependencies: the transaction boundary, the caller's identity and role checks."""

import hmac
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.orgs import service as org_service
from services.api.orgs.keys import split_key
from services.api.problems import Forbidden, TooManyRequests, Unauthorized
from services.api.state import AppState
from services.api.throttle import ThrottleDep
from shared.db.scoping import bind_org
from shared.jobs.queue import discard_deferred, enqueue_deferred
from shared.orgs.models import Role


def get_state(request: Request) -> AppState:
    return request.app.state.kpi


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request: commits when the endpoint returns, rolls back if it raised.

    Services never commit. Jobs they ask for (`shared.jobs.queue.defer`) are enqueued after the commit.
    """
    async with state.db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            discard_deferred(session)
            raise
    await enqueue_deferred(session, state.queue)


# scope="function": commit before the response is sent, so a failed commit is the caller's error, not a lie.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer kpi_…`")
_platform = APIKeyHeader(name="X-Platform-Token", auto_error=False, description="The PLATFORM_TOKEN secret")


@dataclass(frozen=True)
class Principal:
    """Who is calling: one API key of one organisation."""

    key_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


async def authenticate(
    request: Request,
    session: SessionDep,
    throttle: ThrottleDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """Resolve the bearer key and bind the request's session to its organisation.

    Failed keys are throttled per address and per key prefix (`services.api.throttle`), before the lookup.
    """
    if credentials is None:
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    parts = split_key(credentials.credentials)
    attempt = await throttle.check(address=throttle.address_of(request), prefix=parts[0] if parts else None)
    key = await org_service.find_key_by_token(session, token=credentials.credentials)
    if key is None:
        await throttle.failed(attempt)
        if attempt.prefix_wait is not None:
            raise TooManyRequests(
                "Too many failed authentication attempts for this key; try again later.",
                retry_after=max(1, math.ceil(attempt.prefix_wait)),
            )
        raise Unauthorized("The API key is not valid or has been revoked.")
    await throttle.succeeded(attempt)
    bind_org(session, key.org_id)
    return Principal(key_id=key.id, org_id=key.org_id, role=key.role)


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"This needs a key with role {names}; this key is {principal.role.value}.")
        return principal

    return check


# Role sets by what a route does; routers take one of these, never a list of their own.
Admin = Annotated[Principal, Depends(require_role(Role.admin))]
Editor = Annotated[Principal, Depends(require_role(Role.admin, Role.editor))]
Reader = Annotated[Principal, Depends(require_role(Role.admin, Role.editor, Role.viewer))]
Ingestor = Annotated[Principal, Depends(require_role(Role.admin, Role.editor, Role.ingest))]
AnyKey = Annotated[Principal, Depends(require_role(*Role))]


async def require_platform_token(
    request: Request, state: StateDep, throttle: ThrottleDep, token: Annotated[str | None, Security(_platform)]
) -> None:
    """The platform token, throttled per client address: unlike API keys it may be a human-chosen secret."""
    expected = state.settings.platform_token
    if expected is None or not expected.get_secret_value():
        raise Unauthorized("Creating organisations over HTTP is off: PLATFORM_TOKEN is not set (use the CLI).")
    if token is None:
        raise Unauthorized("Missing X-Platform-Token.")
    attempt = await throttle.check(address=throttle.address_of(request))
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        await throttle.failed(attempt)
        raise Unauthorized("Wrong X-Platform-Token.")
