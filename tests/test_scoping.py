"""The one isolation mechanism: a session bound to an org cannot read, change or add another org's rows."""

import pytest
from sqlalchemy import delete, select, update

from services.api.orgs.keys import generate_key
from shared.db.scoping import CrossOrgWriteError, UnscopedQueryError, allow_all_orgs, bind_org
from shared.orgs.models import ApiKey, Role


async def test_bound_session_sees_only_its_org(state, org, other_org):
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        keys = (await session.scalars(select(ApiKey))).all()
        assert {k.org_id for k in keys} == {org.id}
        assert await session.get(ApiKey, other_org.admin_key_id) is None
        assert await session.get(ApiKey, org.admin_key_id) is not None


async def test_bound_session_cannot_update_or_delete_another_orgs_rows(state, org, other_org):
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        await session.execute(update(ApiKey).where(ApiKey.id == other_org.admin_key_id).values(name="pwned"))
        await session.execute(delete(ApiKey).where(ApiKey.id == other_org.admin_key_id))
        await session.commit()
    async with state.db.sessionmaker() as session:
        bind_org(session, other_org.id)
        key = await session.get(ApiKey, other_org.admin_key_id)
        assert key is not None and key.name == "admin (bootstrap)"


async def test_unbound_session_refuses_org_scoped_queries(state):
    async with state.db.sessionmaker() as session:
        with pytest.raises(UnscopedQueryError):
            await session.scalars(select(ApiKey))
        # Saying so explicitly is allowed: per statement, or for a whole (worker) session.
        await session.scalars(select(ApiKey).limit(1).execution_options(all_orgs=True))
        allow_all_orgs(session)
        await session.scalars(select(ApiKey).limit(1))


async def test_new_rows_are_stamped_with_the_bound_org_and_foreign_ones_refused(state, org, other_org):
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        new = generate_key()
        mine = ApiKey(name="stamped", role=Role.viewer, prefix=new.prefix, secret_hash=new.secret_hash)
        session.add(mine)
        await session.flush()
        assert mine.org_id == org.id
        other = generate_key()
        session.add(
            ApiKey(
                name="smuggled",
                role=Role.admin,
                prefix=other.prefix,
                secret_hash=other.secret_hash,
                org_id=other_org.id,
            )
        )
        with pytest.raises(CrossOrgWriteError):
            await session.flush()
        await session.rollback()
