"""Routes: the exchange rates an organisation provides (JSON or CSV), read and removed."""

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.api.deps import Editor, Reader, SessionDep
from services.api.media import is_json_type
from services.api.money import service
from services.api.money.schemas import FxRatesIn, FxRatesPage, FxRatesStored
from services.api.openapi import body_documented_as
from services.api.problems import V1_ERRORS, UnsupportedMediaType, invalid_json, problem_responses
from services.api.schemas import Currency, Day
from services.api.text import readable

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
router = APIRouter(prefix="/v1/fx-rates", tags=["exchange rates"], responses=V1_ERRORS)

_BODY = body_documented_as(FxRatesIn)
_BODY["requestBody"]["content"]["text/csv"] = {
    "schema": {"type": "string"},
    "example": "day,from,to,rate\n2026-11-01,USD,VND,25400\n2026-11-02,USD,VND,25410\n",
}


@router.put("", response_model=FxRatesStored, responses=problem_responses(413), openapi_extra=_BODY)
async def put_rates(request: Request, session: SessionDep, _: Editor) -> FxRatesStored:
    """Store exchange rates (editor or admin): JSON `{"rates": [{"day", "from", "to", "rate"}]}` (or the bare
    list), or a CSV file (`Content-Type: text/csv`, also `application/csv` or `text/plain`) with the header
    `day,from,to,rate`; at most 10,000 rates per request.

    `1 from = rate to` from `day` on: the rate of a day is the latest one on or before it, of the pair as given
    or else its inverse (never triangulated through a third currency). Idempotent: a (day, from, to) already
    stored is replaced, the same rate again changes nothing. Money metrics are converted into the organisation's
    reporting currency (and budgets' actuals into the budget's currency) day by day; a day without a rate makes
    the values that need it `no_data`, with the missing pair and day as the reason. A change re-evaluates the
    KPIs that read money from its first day (`reevaluating_since`)."""
    raw = await request.body()
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES and not is_json_type(content_type):
        raise UnsupportedMediaType(
            f"Rates are JSON (application/json) or CSV (text/csv); got {readable(content_type)}."
        )
    if content_type in CSV_TYPES:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RequestValidationError(
                [{"type": "csv_encoding", "loc": ("body",), "msg": "the CSV is not UTF-8 text", "input": None}]
            ) from exc
        rates = service.rates_from_csv(text)
    else:
        try:
            payload = json.loads(raw) if raw else None
            body = FxRatesIn.model_validate({"rates": payload} if isinstance(payload, list) else payload)
        except json.JSONDecodeError as exc:
            raise invalid_json(exc) from exc
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc
        except ValueError as exc:  # not UTF-8/16/32 text (a JSON error or a validation error is caught above)
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
        rates = body.rates
    return await service.store_rates(session, rates)


@router.get("", response_model=FxRatesPage)
async def list_rates(
    session: SessionDep,
    _: Reader,
    from_: Annotated[Currency | None, Query(alias="from", description="Only rates from this currency")] = None,
    to: Annotated[Currency | None, Query(description="Only rates into this currency")] = None,
    start: Annotated[Day | None, Query(description="Only rates of this day or later")] = None,
    end: Annotated[Day | None, Query(description="Only rates of this day or earlier")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> FxRatesPage:
    """The organisation's exchange rates, by pair then day."""
    return await service.list_rates(session, base=from_, quote=to, start=start, end=end, limit=limit, cursor=cursor)


@router.delete("/{from_currency}/{to_currency}/{day}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rate(
    from_currency: Currency, to_currency: Currency, day: date, session: SessionDep, _: Editor
) -> Response:
    """Remove one day's rate (editor or admin): that day and the following ones take the pair's previous rate, or
    have none (their money is then `no_data`); the KPIs that read money are re-evaluated from that day."""
    await service.delete_rate(session, base=from_currency, quote=to_currency, day=day)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
