"""Ids are UUIDv7 and sort in creation order, also within one millisecond."""

import uuid

from shared.db.base import uuid7


def test_ids_sort_in_creation_order_even_in_a_burst():
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_version_7_rfc_variant():
    value = uuid7()
    assert value.version == 7 and value.variant == uuid.RFC_4122
