"""Browser sign-in for the dashboard: an API key (viewer or higher) is exchanged once for a session cookie.

Why a cookie and not a signed link: a link ends up in browser history, chat logs and proxies, and whoever holds
it is signed in; a key typed into a form never appears in a URL. The cookie is HttpOnly (scripts cannot read
it), SameSite=Strict (other sites cannot make the browser send it), Secure when PUBLIC_BASE_URL is https, and
signed (HMAC-SHA256 with SESSION_SECRET). It names a session row of the API key: every page load checks the
session has not ended or expired and the key is still active, so signing out or revoking the key ends it at
once. Each POST form carries a CSRF token: for the sign-in form a double-submit cookie, for signed-in forms a
token derived from the session.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.dashboard import i18n
from services.api.text import unstorable
from shared.db.scoping import bind_org
from shared.orgs.clock import remember_zone
from shared.orgs.models import ApiKey, DashboardSession, Org, Role
from shared.settings import Settings

SESSION_COOKIE = "kpi_session"
CSRF_COOKIE = "kpi_csrf"
DASHBOARD_ROLES = frozenset({Role.admin, Role.editor, Role.viewer})
ACKNOWLEDGING_ROLES = frozenset({Role.admin, Role.editor})


@dataclass(frozen=True)
class Viewer:
    """Who is looking: one API key of one organisation, signed in through the browser."""

    key_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    session_id: uuid.UUID
    locale: str | None = None  # the language chosen for this session; None: the browser's (i18n.locale_of)


def session_key(settings: Settings) -> bytes:
    """The HMAC key of this process (a random one when SESSION_SECRET is unset)."""
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return hashlib.sha256(b"kpi-dashboard-session:" + settings.session_secret.get_secret_value().encode()).digest()
    return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


async def start_session(session: AsyncSession, key: bytes, api_key: ApiKey, max_age_s: int) -> str:
    """Record a signed-in browser and return its cookie value (a key's long-expired sessions are cleared)."""
    now = datetime.now(UTC)
    bind_org(session, api_key.org_id)  # the key was found across orgs; from here on, its org only
    await session.execute(
        delete(DashboardSession).where(DashboardSession.api_key_id == api_key.id, DashboardSession.expires_at < now)
    )
    row = DashboardSession(org_id=api_key.org_id, api_key_id=api_key.id, expires_at=now + timedelta(seconds=max_age_s))
    session.add(row)
    await session.flush()
    body = {"s": str(row.id), "o": str(api_key.org_id), "e": int(row.expires_at.timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, payload)}"


def read(key: bytes, cookie: str | None) -> dict | None:
    """The cookie's claims if its signature holds and it has not expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload, mac = cookie.split(".")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    try:
        claims = json.loads(_unb64(payload))
        uuid.UUID(claims["s"]), uuid.UUID(claims["o"])
        if int(claims["e"]) < time.time():
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return claims


async def current_viewer(request: Request, session: AsyncSession) -> Viewer | None:
    """The signed-in viewer, with the session bound to their organisation and the request's language set to the
    session's choice; None when not signed in (no cookie, a bad signature, an expired or ended session, or a
    revoked key)."""
    claims = read(request.app.state.session_key, request.cookies.get(SESSION_COOKIE))
    if claims is None:
        return None
    org_id = uuid.UUID(claims["o"])
    bind_org(session, org_id)
    found = (
        await session.execute(
            select(ApiKey, DashboardSession, Org.time_zone)
            .join(DashboardSession, DashboardSession.api_key_id == ApiKey.id)
            .join(Org, Org.id == ApiKey.org_id)
            .where(
                DashboardSession.id == uuid.UUID(claims["s"]),
                DashboardSession.ended_at.is_(None),
                DashboardSession.expires_at > datetime.now(UTC),
                ApiKey.revoked_at.is_(None),
            )
        )
    ).first()
    if found is None or found[0].role not in DASHBOARD_ROLES:
        return None
    key, browser, time_zone = found
    remember_zone(session, org_id, time_zone)  # the dashboard's "today" is the organisation's
    viewer = Viewer(key_id=key.id, org_id=org_id, role=key.role, session_id=browser.id, locale=browser.locale)
    i18n.set_locale(i18n.locale_of(request, viewer))  # the messages a route writes are in the viewer's language
    return viewer


async def end_session(session: AsyncSession, viewer: Viewer) -> None:
    """Sign out: the session row is ended, so the cookie is worthless even if a copy survives."""
    await session.execute(
        update(DashboardSession).where(DashboardSession.id == viewer.session_id).values(ended_at=datetime.now(UTC))
    )


async def choose_locale(session: AsyncSession, viewer: Viewer, locale: str) -> None:
    """Keep a language for this signed-in session (other sessions of the same key keep theirs)."""
    await session.execute(
        update(DashboardSession).where(DashboardSession.id == viewer.session_id).values(locale=locale)
    )


def csrf_for(key: bytes, viewer: Viewer) -> str:
    """The CSRF token of a signed-in session's forms."""
    return _mac(key, f"csrf:{viewer.key_id}:{viewer.session_id}")


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return expected is not None and given is not None and hmac.compare_digest(expected, given)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a dashboard path of this site (never an open redirect) that holds no
    text the store refuses (services.api.text)."""
    if (
        path
        and path.startswith("/dashboard")
        and not path.startswith("//")
        and "\\" not in path
        and unstorable(path) is None
    ):
        return path
    return "/dashboard"


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/dashboard/login?next={quote(target, safe='')}"


def cookie_secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")
