"""Delete guards: what still points at a row, found from the schema rather than listed by hand.

Every foreign key that RESTRICTs deletion of a team, position, member or workflow is counted, whichever
domain's table it sits in, so a reference another domain adds later (a KPI's owner team…) is guarded too
and answers a 409 that names it, instead of the database's bare integrity error.
"""

from collections import Counter
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

import shared.models  # noqa: F401  (registers every domain's tables)
from services.api.crud import refuse_if_referenced
from shared.db.base import Base

# Nouns clearer than the table's name, by (referencing table, column).
_NOUNS = {("teams", "parent_id"): "child teams"}


@cache
def restricting_references(table: str) -> tuple[tuple[InstrumentedAttribute, str], ...]:
    """(column, plural noun) for every mapped column whose foreign key to `table` blocks a delete."""
    found: list[tuple[str, str, InstrumentedAttribute]] = []
    for mapper in Base.registry.mappers:
        for prop in mapper.column_attrs:
            for column in prop.columns:
                for fk in column.foreign_keys:
                    blocks = (fk.ondelete or "NO ACTION").upper() in ("RESTRICT", "NO ACTION")
                    if getattr(fk.column.table, "name", None) == table and blocks:
                        found.append(
                            (getattr(mapper.local_table, "name", ""), column.name, getattr(mapper.class_, prop.key))
                        )
    per_table = Counter(referencing for referencing, _, _ in found)
    refs = []
    for referencing, column_name, attribute in sorted(found, key=lambda f: (f[0], f[1])):
        noun = _NOUNS.get((referencing, column_name))
        if noun is None:
            noun = referencing.replace("_", " ")
            if per_table[referencing] > 1:
                noun += f" (as {column_name})"
        refs.append((attribute, noun))
    return tuple(refs)


async def refuse_delete_if_referenced(session: AsyncSession, obj: Any) -> None:
    """409 naming every kind of row that still points at `obj` (one query)."""
    refs = restricting_references(type(obj).__tablename__)
    if refs:
        await refuse_if_referenced(session, obj, refs)
