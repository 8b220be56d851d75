"""API keys: made once, shown once, stored as a hash, revocable, with their last use kept."""

from __future__ import annotations

import hashlib
import secrets
import time

from genq.domain.auth import Principal, Role, Via
from genq.domain.errors import InvalidRequest, NotFound, Unauthorized
from genq.domain.ids import uuid7
from genq.store.base import ApiKeyRecord, Store

KEY_PREFIX = "gq_"
_SHOWN = 10  # characters of a key kept for listings: "gq_" and 7 random ones
_TOUCH_EVERY_S = 60.0  # last_used_at is written at most this often per key


def hash_key(key: str) -> str:
    """The stored form of a key. Keys are 240 random bits, so one SHA-256 is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    """Whether a credential is a genq API key rather than a JWT."""
    return value.startswith(KEY_PREFIX)


class ApiKeys:
    """Creating, finding and revoking keys; lookups are cached for ``cache_s`` seconds."""

    def __init__(self, store: Store, cache_s: float = 5.0) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}
        self._touched: dict[str, float] = {}

    async def create(self, name: str, role: str, user_id: str | None) -> tuple[str, ApiKeyRecord]:
        """A new key and its record; the key itself is never retrievable again."""
        try:
            kind = Role(role)
        except ValueError:
            raise InvalidRequest(
                f"unknown role {role!r}", {"field": "role", "allowed": [r.value for r in Role]}
            ) from None
        if not name.strip():
            raise InvalidRequest("a key needs a name", {"field": "name"})
        key = KEY_PREFIX + secrets.token_urlsafe(30)
        record = ApiKeyRecord(
            id=uuid7(),
            name=name.strip(),
            role=kind.value,
            # A key without a user acts as a principal of its own, named after the key.
            user_id=user_id or f"key:{name.strip()}",
            prefix=key[:_SHOWN],
            created_at=time.time(),
        )
        await self.store.create_api_key(record, hash_key(key))
        return key, record

    async def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key everywhere (other processes stop accepting it within ``cache_s``)."""
        record = await self.store.revoke_api_key(key_id, time.time())
        if record is None:
            raise NotFound(f"no API key with id {key_id}")
        self._cache.clear()
        return record

    async def authenticate(self, key: str) -> Principal:
        """The principal a key stands for; 401 for an unknown or revoked key."""
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_s:
            record = hit[1]
        else:
            record = await self.store.find_api_key(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, record)
        if record is None:
            raise Unauthorized("the API key is not valid")
        if record.revoked_at is not None:
            raise Unauthorized("the API key has been revoked")
        if now - self._touched.get(record.id, -_TOUCH_EVERY_S) >= _TOUCH_EVERY_S:
            self._touched[record.id] = now
            await self.store.touch_api_key(record.id, time.time())
        return Principal(record.user_id, Role(record.role), Via.API_KEY, key_id=record.id)
