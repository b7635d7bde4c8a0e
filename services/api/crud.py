"""Small helpers every domain's service uses: fetch-or-404, referenced-id checks, delete guards."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.interfaces import ORMOption

from services.api.problems import Conflict, NotFound, Unprocessable

T = TypeVar("T")


def label_of(model: type) -> str:
    """ "team" for Team, "business goal" for BusinessGoal: how problems name a row."""
    name = model.__name__
    return "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


async def get_or_404(session: AsyncSession, model: type[T], obj_id: uuid.UUID, *, load: Sequence[ORMOption] = ()) -> T:
    """The row of the caller's organisation with this id; another org's id is simply not found. `load`: loader
    options (the row is then read afresh, with them)."""
    obj = await session.get(model, obj_id, options=load, populate_existing=bool(load))
    if obj is None:
        raise NotFound(f"No {label_of(model)} {obj_id}.")
    return obj


async def require_refs(session: AsyncSession, refs: Mapping[str, tuple[type[Any], uuid.UUID | None]]) -> None:
    """Refuse (422, one error per field) ids in a request body that name nothing in this organisation.

    `refs` maps a body field to (model, id); None ids are skipped. One query per model named.
    """
    wanted: dict[type[Any], set[uuid.UUID]] = {}
    for model, ref_id in refs.values():
        if ref_id is not None:
            wanted.setdefault(model, set()).add(ref_id)
    found: dict[type[Any], set[uuid.UUID]] = {}
    for model, ids in wanted.items():
        found[model] = set((await session.scalars(select(model.id).where(model.id.in_(ids)))).all())
    errors = [
        {"location": f"body.{field}", "message": f"no {label_of(model)} {ref_id}", "type": "unknown_reference"}
        for field, (model, ref_id) in refs.items()
        if ref_id is not None and ref_id not in found[model]
    ]
    if errors:
        raise Unprocessable(f"{errors[0]['location']}: {errors[0]['message']}", errors=errors)


async def refuse_if_referenced(
    session: AsyncSession, obj: Any, refs: Sequence[tuple[InstrumentedAttribute, str]]
) -> None:
    """409 naming what still points at `obj`, e.g. "team … is referenced by 2 positions, 1 workflow".

    `refs` lists (foreign-key column, plural noun); all are counted in one query.
    """
    if not refs:
        return
    counts = union_all(
        *(select(literal(noun).label("noun"), func.count().label("n")).where(column == obj.id) for column, noun in refs)
    )
    rows = (await session.execute(counts)).all()
    using = {noun: n for noun, n in rows if n}
    if using:
        # "1 budget line", "2 budget lines": the nouns are given in the plural.
        listed = ", ".join(f"{n} {noun[:-1] if n == 1 and noun.endswith('s') else noun}" for noun, n in using.items())
        raise Conflict(
            f"{label_of(type(obj)).capitalize()} {obj.id} is still referenced by {listed}; move or delete those first.",
            referenced_by=using,
        )


def apply_changes(obj: Any, changes: dict[str, Any], *, allowed: Iterable[str] | None = None) -> None:
    """Set the fields a PATCH body carried (`Input.changes()`: only those sent, nested objects whole)."""
    allowed_set = set(allowed) if allowed is not None else None
    for field, value in changes.items():
        if allowed_set is not None and field not in allowed_set:
            continue
        setattr(obj, field, value)
