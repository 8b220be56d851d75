"""Fixtures for auth tests: tokens signed like an identity provider's, and a server with
authentication on."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.conftest import RunningServer, ServerFactory

SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"


def token(sub: str = "alice", role: str | None = "authenticated", **claims: Any) -> str:
    """An HS256 JWT as Supabase signs them (valid for an hour unless claims say otherwise)."""
    now = int(time.time())
    body: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + 3600, "aud": "authenticated"}
    if role is not None:
        body["role"] = role
    body.update(claims)
    secret = body.pop("_secret", SECRET)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


AUTH_SETTINGS: dict[str, Any] = {
    "jwt_secret": SECRET,
    "jwt_audience": "authenticated",
    "rate_limits": {},
    "max_active_jobs": {},
}


@pytest.fixture
async def auth_server(start_server: ServerFactory) -> RunningServer:
    """A server with HS256 auth, no rate limits or caps, and workers off."""
    return await start_server(run_workers=False, **AUTH_SETTINGS)
