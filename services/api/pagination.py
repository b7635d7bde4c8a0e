"""Keyset pagination over time-ordered ids: stable under inserts, constant cost per page."""

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.problems import Unprocessable

MAX_LIMIT = 200


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: uuid.UUID | None


def _decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable(
            "cursor is not one this API issued", errors=[{"location": "query.cursor", "message": "invalid"}]
        ) from exc


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, after=_decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]


async def fetch_page(session: AsyncSession, stmt: Select, id_column: Any, page: PageParams) -> tuple[list, str | None]:
    """Run `stmt` (already filtered) one page at a time, ordered by `id_column`; one query per page."""
    if page.after is not None:
        stmt = stmt.where(id_column > page.after)
    rows = list((await session.scalars(stmt.order_by(id_column).limit(page.limit + 1))).all())
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, encode_cursor(rows[-1].id)
    return rows, None
