"""The dashboard's answer to a dependency outage: a page a browser shows (503 with Retry-After), not JSON.

The API's problem handlers (`services.api.problems.unavailable_response`) hand paths under /dashboard here. The
page is rendered without the database: no viewer, no organisation, only the message and a link to try again.
"""

from fastapi.responses import HTMLResponse

from services.api.dashboard.router import SECURITY_HEADERS, templates

TITLE = "Temporarily unavailable"
DETAIL = "The dashboard cannot reach its database right now. Nothing was changed; reload the page in a few seconds."


def outage_page(retry_after_s: int) -> HTMLResponse:
    html = templates.get_template("error.html").render(title=TITLE, detail=DETAIL, viewer=None, csrf=None)
    return HTMLResponse(html, status_code=503, headers={**SECURITY_HEADERS, "Retry-After": str(retry_after_s)})
