"""Tenant isolation: the one mechanism that scopes every ORM query to the caller's organisation.

A session is bound to an org with `bind_org(session, org_id)` (the API's auth dependency does this).
From then on every ORM SELECT, UPDATE and DELETE touching an `OrgScoped` table gets `org_id = :org`
added, so another org's ids simply are not found (404), and new rows are stamped with the org on
flush. Routers never filter by org themselves. A session bound to no org refuses queries on org-scoped
tables unless it was opened with `allow_all_orgs(session)` (worker jobs that span orgs) or the single
statement says `.execution_options(all_orgs=True)` (the API-key lookup, before the org is known).
"""

import uuid

from sqlalchemy import ForeignKey, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

_ORG_KEY = "org_id"
_ALL_ORGS_KEY = "all_orgs"


class UnscopedQueryError(RuntimeError):
    """An org-scoped table was queried from a session bound to no organisation."""


class CrossOrgWriteError(RuntimeError):
    """A row of one organisation was added through a session bound to another."""


class OrgScoped:
    """Mixin for tables whose rows belong to one organisation."""

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True, nullable=False)


def bind_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Scope every later query of this session (sync or async) to one organisation."""
    session.info[_ORG_KEY] = org_id


def allow_all_orgs(session: AsyncSession) -> None:
    """Let this session read across organisations (worker jobs, operator tooling)."""
    session.info[_ALL_ORGS_KEY] = True


def bound_org(session: AsyncSession) -> uuid.UUID | None:
    return session.info.get(_ORG_KEY)


def _touches_org_scoped(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, OrgScoped) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_org(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria already travel with the parent statement
    org_id = state.session.info.get(_ORG_KEY)
    if org_id is None:
        if (
            state.session.info.get(_ALL_ORGS_KEY)
            or state.execution_options.get(_ALL_ORGS_KEY)
            or not _touches_org_scoped(state)
        ):
            return
        raise UnscopedQueryError("query on an org-scoped table from a session bound to no organisation")
    state.statement = state.statement.options(
        with_loader_criteria(OrgScoped, lambda cls: cls.org_id == org_id, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_org(session: Session, flush_context, instances) -> None:
    org_id = session.info.get(_ORG_KEY)
    if org_id is None:
        return
    for obj in session.new:
        if not isinstance(obj, OrgScoped):
            continue
        if obj.org_id is None:
            obj.org_id = org_id
        elif obj.org_id != org_id:
            raise CrossOrgWriteError(f"{type(obj).__name__} of another organisation added")
