"""UUIDv7: valid, version 7, and sortable in the order made."""

from __future__ import annotations

import uuid

from genq.domain.ids import is_uuid, uuid7


def test_uuid7_is_version_7_rfc_variant() -> None:
    value = uuid.UUID(uuid7())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_sorts_in_creation_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_is_uuid() -> None:
    assert is_uuid(uuid7())
    assert not is_uuid("abc")
    assert not is_uuid("")
