"""The dashboard: server-rendered HTML for managers at /dashboard, signed in with a session cookie.

Pages: /dashboard/login (a viewer, editor or admin API key), /dashboard (status cards by category with
charts, budget bars, open alerts, objectives, the org chart), /dashboard/kpis/{id} (one KPI in detail),
/dashboard/notifications (the channels, routing and silences, read-only).
No JavaScript; one self-hosted stylesheet; a strict Content-Security-Policy.
"""

import re
import secrets
import uuid
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.api.alerts import service as alerts_service
from services.api.dashboard import auth, export, i18n, notifications, present, ranges, views
from services.api.dashboard.i18n import gettext as _
from services.api.deps import SessionDep, StateDep
from services.api.orgs import service as org_service
from services.api.orgs.keys import split_key
from services.api.problems import Conflict, NotFound, TooManyRequests
from services.api.text import readable, unstorable
from services.api.throttle import ThrottleDep
from shared.metrics.keys import CURRENCY_DIMENSION
from shared.orgs.clock import session_today
from shared.orgs.models import Role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
i18n.install(templates.env)
present.install(templates.env)

router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(i18n.request_locale)])

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES = 4096
FILTERS_MAX = 3
DIMENSION = re.compile(r"[a-z][a-z0-9_]{0,63}")
LABELS = {"api_key": "API key"}


def page(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    """A rendered page in the request's language: the browser's (the router's dependency), or the session's choice
    once `auth.current_viewer` has read it."""
    locale = i18n.current_locale()
    response = templates.TemplateResponse(request, name, {**context, "locale": locale}, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Language"] = locale
    return response


def error_page(request: Request, status_code: int, title: str, detail: str, viewer=None) -> HTMLResponse:
    context = {"title": title, "detail": detail, "viewer": viewer, "csrf": _csrf(request, viewer)}
    return page(request, "error.html", context, status_code)


def _csrf(request: Request, viewer) -> str | None:
    return auth.csrf_for(request.app.state.session_key, viewer) if viewer else None


class Form(dict[str, str]):
    """A posted form's fields (the first value of each), and the first field the text rule refuses."""

    unfit: tuple[str, str] | None = None  # (field, reason): text the store cannot hold (services.api.text)


async def _form(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return Form()
    form = Form({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()})
    # The same rule as every API input: a NUL (`%00`) never reaches a query, on either backend. (Undecodable bytes
    # were replaced above, so a lone surrogate cannot arrive; the rule still names it.)
    form.unfit = next(
        ((readable(name), reason) for name, value in form.items() if (reason := unstorable(name) or unstorable(value))),
        None,
    )
    return form


def _unfit_message(unfit: tuple[str, str]) -> str:
    field, reason = unfit
    # "API key" is also the sign-in form's label (login.html), which is where its msgid is extracted from.
    label = _(LABELS[field]) if field in LABELS else _("field %(name)s") % {"name": field}
    return _("The %(field)s %(reason)s.") % {"field": label, "reason": reason}


def _login_form(request: Request, *, next_path: str, error: str | None = None, status_code: int = 200):
    token = request.cookies.get(auth.CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request, "login.html", {"next": next_path, "csrf": token, "error": error, "viewer": None}, status_code
    )
    response.set_cookie(
        auth.CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=auth.cookie_secure(request.app.state.kpi.settings),
        path="/dashboard",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None):
    return _login_form(request, next_path=auth.safe_next(next))


@router.post("/login")
async def login(request: Request, session: SessionDep, state: StateDep, throttle: ThrottleDep):
    form = await _form(request)
    next_path = auth.safe_next(form.get("next"))
    if not auth.csrf_ok(request.cookies.get(auth.CSRF_COOKIE), form.get("csrf")):
        return _login_form(
            request, next_path=next_path, error=_("The form expired; please sign in again."), status_code=403
        )
    token = (form.get("api_key") or "").strip()
    parts = split_key(token)  # None for anything but a key's exact format: then no query is made (find_key_by_token)
    try:
        # Wrong keys are throttled like bearer keys, before the lookup (services.api.throttle).
        attempt = await throttle.check(address=throttle.address_of(request), prefix=parts[0] if parts else None)
    except TooManyRequests as exc:
        response = _login_form(
            request,
            next_path=next_path,
            error=_("Too many failed sign-ins; wait a minute and try again."),
            status_code=429,
        )
        response.headers.update(exc.headers or {})
        return response
    if form.unfit is not None:
        # Text no store can hold: refused like any input (422, on both backends), before any query. In the key
        # field it is also a malformed key, so it costs the address a failed attempt like any wrong key.
        if form.unfit[0] == "api_key":
            await throttle.failed(attempt)
        return _login_form(request, next_path=next_path, error=_unfit_message(form.unfit), status_code=422)
    key = await org_service.find_key_by_token(session, token=token)
    if key is None:
        await throttle.failed(attempt)
        return _login_form(
            request, next_path=next_path, error=_("That API key is not valid or has been revoked."), status_code=401
        )
    await throttle.succeeded(attempt)
    if key.role not in auth.DASHBOARD_ROLES:
        return _login_form(
            request,
            next_path=next_path,
            error=_("A key with role %(role)s cannot open the dashboard; use a viewer, editor or admin key.")
            % {"role": key.role.value},
            status_code=403,
        )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        await auth.start_session(session, request.app.state.session_key, key, state.settings.session_max_age_s),
        max_age=state.settings.session_max_age_s,
        httponly=True,
        samesite="strict",
        secure=auth.cookie_secure(state.settings),
        path="/dashboard",
    )
    response.delete_cookie(auth.CSRF_COOKIE, path="/dashboard")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep):
    viewer = await auth.current_viewer(request, session)
    form = await _form(request)
    if form.unfit is not None:
        return error_page(request, 422, _("Not signed out"), _unfit_message(form.unfit), viewer)
    if viewer is not None and not auth.csrf_ok(_csrf(request, viewer), form.get("csrf")):
        return error_page(
            request, 403, _("Not signed out"), _("The form expired; reload the page and try again."), viewer
        )
    if viewer is not None:
        await auth.end_session(session, viewer)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/dashboard")
    return response


async def _view(request: Request, session, viewer) -> tuple[ranges.View | None, HTMLResponse | None]:
    """The view the URL asks for (the default: this month, the one containing the organisation's today, whose zone
    came with the session), or the 422 page to answer instead."""
    try:
        return ranges.from_query(request.query_params, await session_today(session)), None
    except ranges.BadRange as exc:
        return None, error_page(request, 422, _("Unknown period"), str(exc), viewer)


def _filters(request: Request) -> dict[str, str]:
    """The drill-down's filters from the URL (`filter=channel:meta`, at most FILTERS_MAX); BadRange says why not."""
    out: dict[str, str] = {}
    for given in request.query_params.getlist("filter")[: FILTERS_MAX + 1]:
        dimension, colon, value = given.partition(":")
        if not colon or not DIMENSION.fullmatch(dimension) or not value or len(value) > 200 or unstorable(value):
            raise ranges.BadRange(_("A filter is a dimension and a value: filter=channel:meta."))
        if dimension in out or dimension == CURRENCY_DIMENSION:
            raise ranges.BadRange(_("Each dimension may be filtered once."))
        out[dimension] = value
    if len(out) > FILTERS_MAX:
        raise ranges.BadRange(_("At most %(n)d filters at once.") % {"n": FILTERS_MAX})
    return out


@router.get("")
async def overview(request: Request, session: SessionDep):
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse(auth.login_url(request), status_code=303)
    view, refused = await _view(request, session, viewer)
    if view is None:
        return refused
    data = await views.overview(session, org_id=viewer.org_id, view=view)
    return page(request, "overview.html", _context(request, viewer, data))


def _context(request: Request, viewer: auth.Viewer, data: dict) -> dict:
    """A signed-in page's context: its data, who looks, the forms' CSRF token, and whether they may act (editors
    and admins acknowledge alerts and are shown how to set targets)."""
    return {
        **data,
        "viewer": viewer,
        "csrf": _csrf(request, viewer),
        "can_edit": viewer.role in auth.ACKNOWLEDGING_ROLES,
    }


@router.get("/export.csv")
async def overview_csv(request: Request, session: SessionDep):
    """The overview's KPIs as they are on screen (the same view: range, comparison), one row per KPI."""
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse(auth.login_url(request), status_code=303)
    view, refused = await _view(request, session, viewer)
    if view is None:
        return refused
    cards = await views.view_cards(session, view, await session_today(session))
    return export.csv_response(export.overview_rows(cards, view), export.filename("kpis", view))


async def _kpi_view(request: Request, session, viewer, kpi_id: str):
    """The KPI page's data, or the error page to answer instead."""
    view, refused = await _view(request, session, viewer)
    if view is None:
        return None, refused
    try:
        filters = _filters(request)
    except ranges.BadRange as exc:
        return None, error_page(request, 422, _("Unknown filter"), str(exc), viewer)
    try:
        wanted = uuid.UUID(kpi_id)
    except ValueError:
        return None, _no_such_kpi(request, viewer)
    try:
        return await views.kpi_page(session, kpi_id=wanted, view=view, filters=filters), None
    except NotFound:
        return None, _no_such_kpi(request, viewer)


def _no_such_kpi(request: Request, viewer: auth.Viewer) -> HTMLResponse:
    return error_page(request, 404, _("KPI not found"), _("No KPI with this id in your organisation."), viewer)


@router.get("/kpis/{kpi_id}")
async def kpi_detail(request: Request, session: SessionDep, kpi_id: str):
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse(auth.login_url(request), status_code=303)
    data, refused = await _kpi_view(request, session, viewer, kpi_id)
    if refused is not None:
        return refused
    return page(request, "kpi.html", _context(request, viewer, data))


@router.get("/kpis/{kpi_id}/export.csv")
async def kpi_csv(request: Request, session: SessionDep, kpi_id: str):
    """The KPI page's drill-down as it is on screen: every slice of every dimension, with the total."""
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse(auth.login_url(request), status_code=303)
    data, refused = await _kpi_view(request, session, viewer, kpi_id)
    if refused is not None:
        return refused
    rows = export.drill_rows(data["card"], data["breakdowns"], data["view"], data["filters"])
    return export.csv_response(rows, export.filename(data["kpi"].name, data["view"]))


@router.get("/notifications")
async def notifications_page(request: Request, session: SessionDep):
    """Where alerts and digests go: the channels, the routing and the silences in force (admins change them through
    the API; the page tells them how when a part is empty)."""
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse(auth.login_url(request), status_code=303)
    data = await notifications.notifications_page(session, org_id=viewer.org_id)
    context = {
        **data,
        "viewer": viewer,
        "csrf": _csrf(request, viewer),
        "is_admin": viewer.role == Role.admin,
        "can_silence": viewer.role in auth.ACKNOWLEDGING_ROLES,
    }
    return page(request, "notifications.html", context)


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(request: Request, session: SessionDep, alert_id: str):
    """An editor or admin acknowledges an open alert from the dashboard (the same action as the API's)."""
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    form = await _form(request)
    if form.unfit is not None:
        return error_page(request, 422, _("Not acknowledged"), _unfit_message(form.unfit), viewer)
    if not auth.csrf_ok(_csrf(request, viewer), form.get("csrf")):
        return error_page(
            request, 403, _("Not acknowledged"), _("The form expired; reload the page and try again."), viewer
        )
    if viewer.role not in auth.ACKNOWLEDGING_ROLES:
        return error_page(
            request, 403, _("Not acknowledged"), _("Only editor and admin keys acknowledge alerts."), viewer
        )
    try:
        await alerts_service.acknowledge(session, alert_id=uuid.UUID(alert_id), key_id=viewer.key_id)
    except (ValueError, NotFound):
        return error_page(request, 404, _("Alert not found"), _("No alert with this id in your organisation."), viewer)
    except Conflict:
        pass  # resolved meanwhile: nothing left to acknowledge, the page shows it
    return RedirectResponse(auth.safe_next(form.get("next")), status_code=303)


@router.post("/language")
async def choose_language(request: Request, session: SessionDep):
    """A signed-in viewer picks the dashboard's language for this browser session (until they sign out)."""
    viewer = await auth.current_viewer(request, session)
    if viewer is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    form = await _form(request)
    if form.unfit is not None:
        return error_page(request, 422, _("Language not changed"), _unfit_message(form.unfit), viewer)
    if not auth.csrf_ok(_csrf(request, viewer), form.get("csrf")):
        return error_page(
            request, 403, _("Language not changed"), _("The form expired; reload the page and try again."), viewer
        )
    locale = form.get("locale")
    if locale is None or locale not in i18n.SUPPORTED:
        return error_page(request, 422, _("Language not changed"), _("Choose English or Tiếng Việt."), viewer)
    await auth.choose_locale(session, viewer, locale)
    return RedirectResponse(auth.safe_next(form.get("next")), status_code=303)


@router.get("/static/dashboard.css")
async def stylesheet() -> Response:
    return FileResponse(
        HERE / "static" / "dashboard.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
