"""Routes: each organisation's settings of the ad-platform adapters, per source."""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from services.api.deps import Admin, Reader, SessionDep
from services.api.ingest import sources
from services.api.ingest.schemas import SourceConfigOut

router = APIRouter(prefix="/sources")


@router.get("/{source}/config", response_model=SourceConfigOut, summary="Read a source's adapter settings")
async def get_source_config(source: str, session: SessionDep, _caller: Reader) -> SourceConfigOut:
    """The settings `POST /v1/ingest/{source}` reads this organisation's reports with: the organisation's own
    and, for each it did not set, the default (`customised` lists the former).

    `meta` has `conversions` and `leads` (Meta action types counted from `actions`) and `revenue` (from
    `action_values`), each a priority order; `google_ads`, `tiktok` and `linkedin` have none (`{}`). Any other
    source is a 404.
    """
    return await sources.get_config(session, source=source)


@router.put("/{source}/config", response_model=SourceConfigOut, summary="Set a source's adapter settings")
async def put_source_config(
    source: str,
    session: SessionDep,
    _caller: Admin,
    body: Annotated[
        dict[str, Any],
        Body(
            description="The source's settings; for `meta`: `conversions`, `leads`, `revenue`, each a list of "
            "action types in priority order. A setting left out (or null) follows the default; `[]` turns the "
            "metric off. Sources without settings take `{}`.",
            examples=[{"conversions": ["complete_registration"], "leads": ["lead", "onsite_conversion.lead_grouped"]}],
        ),
    ],
) -> SourceConfigOut:
    """Replace this organisation's settings of one source's adapter (admin keys only); reports pushed from now
    on are read with them, batches already accepted are not re-read.

    Meta reports one purchase under several action types at once (`purchase`, `omni_purchase`, …), so each
    list is a priority order: the first type a row lists gives the metric and the others are ignored. An
    unknown setting, an action type that is not 1–100 letters, digits and `_ . : -`, a type listed twice or more
    than 20 types is a 422 naming it.
    """
    return await sources.put_config(session, source=source, body=body)
