"""Routes: each organisation's settings per source (its adapter's, its default currency) and signing secret."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from services.api.deps import Admin, Reader, SessionDep
from services.api.ingest.sources import service as sources
from services.api.ingest.sources.schemas import SigningSecretIn, SigningSecretOut, SourceConfigOut

router = APIRouter(prefix="/sources")


@router.get("/{source}/config", response_model=SourceConfigOut, summary="Read a source's settings")
async def get_source_config(source: str, session: SessionDep, _caller: Reader) -> SourceConfigOut:
    """The settings `POST /v1/ingest/{source}` reads this organisation's reports with: the organisation's own
    and, for each it did not set, the default (`customised` lists the former); and `default_currency`, the
    currency of this source's money points that state none (null: none set).

    `meta` has `conversions` and `leads` (Meta action types counted from `actions`) and `revenue` (from
    `action_values`), each a priority order; `google_ads`, `tiktok` and `linkedin` have none (`{}`). A generic
    source, the `source` of `POST /v1/ingest/metrics` batches (`api`, `crm`, …), has only its default currency.
    A source name no batch could carry (not a lower-case letter then up to 31 lower-case letters, digits or `_`)
    is a 404.
    """
    return await sources.get_config(session, source=source)


@router.put("/{source}/config", response_model=SourceConfigOut, summary="Set a source's settings")
async def put_source_config(
    source: str,
    session: SessionDep,
    _caller: Admin,
    body: Annotated[
        dict[str, Any],
        Body(
            description="The source's settings. Every source: `default_currency`, an ISO 4217 code or null. "
            "`meta` also: `conversions`, `leads`, `revenue`, each a list of action types in priority order. A "
            "setting left out (or null) follows the default (no default currency); `[]` turns the metric off.",
            examples=[
                {
                    "conversions": ["complete_registration"],
                    "leads": ["lead", "onsite_conversion.lead_grouped"],
                    "default_currency": "EUR",
                }
            ],
        ),
    ],
) -> SourceConfigOut:
    """Replace this organisation's settings of one source (admin keys only): the whole of them, so a setting left
    out goes back to its default. Reports and batches pushed from now on are read with them; batches already
    accepted are not re-read.

    `default_currency` is the currency of this source's money points (spend, revenue, any metric whose unit is
    currency) that state none themselves: neither the point, its batch (`/v1/ingest/metrics`) nor the platform's
    row (Meta `account_currency`, Google Ads `customer.currency_code`, TikTok `currency`; LinkedIn's rows state
    none). Without one such a point is refused with a 422. Every adapter source takes it, and so does a generic
    source: the `source` of `/v1/ingest/metrics` batches (`api`, `crm`, …), which has no other setting.

    Meta reports one purchase under several action types at once (`purchase`, `omni_purchase`, …), so each
    list is a priority order: the first type a row lists gives the metric and the others are ignored. An
    unknown setting, an action type that is not 1–100 letters, digits and `_ . : -`, a type listed twice or more
    than 20 types, or a currency that is not an ISO 4217 code in use is a 422 naming it.
    """
    return await sources.put_config(session, source=source, body=body)


@router.put("/{source}/signing-secret", response_model=SigningSecretOut, summary="Require signed pushes of a source")
async def put_signing_secret(
    source: str, session: SessionDep, _caller: Admin, body: SigningSecretIn
) -> SigningSecretOut:
    """From now on every `POST /v1/ingest/{source}` of this organisation must carry `X-Hub-Signature-256:
    sha256=<hex HMAC-SHA256 of the raw body>` under this secret (Meta's signing scheme; an ETL relay signs
    what it forwards), on top of the ingest key: a leaked key alone can no longer push reports. A push without
    the header or with a wrong signature is a 401 problem and nothing is stored.

    Send your own `secret` (16–100 characters, e.g. the Meta app secret your relay already signs with) or
    none to get a generated one. The secret is shown once, stored sealed (`WEBHOOK_SECRET_KEY`), and replaced
    by the next PUT: signatures under the old one stop being accepted at once. Admin keys only.
    """
    secret = await sources.set_signing_secret(session, source=source, secret=body.secret)
    return SigningSecretOut(
        source=source,
        secret=secret,
        header=sources.SIGNATURE_HEADER,
        format=f"{sources.SIGNATURE_PREFIX}<hex HMAC-SHA256 of the raw request body>",
    )


@router.delete(
    "/{source}/signing-secret",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Stop requiring signed pushes of a source",
)
async def delete_signing_secret(source: str, session: SessionDep, _caller: Admin) -> Response:
    """Pushes of this source are accepted on the ingest key alone again. 404 when no secret is set. Admin
    keys only."""
    await sources.clear_signing_secret(session, source=source)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
