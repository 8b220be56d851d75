"""JWTs (HS256 secret, RS256/ES256 from a JWKS server on loopback), cookies, API keys and
stream tokens: what is accepted, and every way a credential must be refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from genq.store.schema import api_keys
from tests.auth.conftest import AUTH_SETTINGS, SECRET, bearer, token
from tests.conftest import RunningServer, ServerFactory, serve_app

NOW = int(time.time())


class Jwks:
    """A fake identity provider's JWKS endpoint, whose keys a test can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.fetches = 0

    def add(self, kid: str, private: Any) -> None:
        self.keys[kid] = private

    def document(self) -> dict[str, Any]:
        out = []
        for kid, private in self.keys.items():
            algo = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
            jwk: dict[str, Any] = algo.to_jwk(private.public_key(), as_dict=True)
            jwk.update(kid=kid, use="sig")
            out.append(jwk)
        return {"keys": out}

    def sign(self, kid: str, alg: str, **claims: Any) -> str:
        body = {"sub": "alice", "role": "authenticated", "aud": "authenticated"}
        body |= {"iat": NOW, "exp": NOW + 3600, **claims}
        return jwt.encode(body, self.keys[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture
async def jwks() -> AsyncIterator[tuple[Jwks, str]]:
    provider = Jwks()

    async def serve(_request: Request) -> JSONResponse:
        provider.fetches += 1
        return JSONResponse(provider.document())

    app = Starlette(routes=[Route("/.well-known/jwks.json", serve)])
    async with serve_app(app) as url:
        yield provider, f"{url}/.well-known/jwks.json"


@pytest.fixture
async def idp_server(
    start_server: ServerFactory, jwks: tuple[Jwks, str]
) -> tuple[RunningServer, Jwks]:
    provider, url = jwks
    provider.add("rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    provider.add("ec-1", ec.generate_private_key(ec.SECP256R1()))
    server = await start_server(
        run_workers=False, jwks_url=url, jwks_cache_s=300, jwt_issuer=None, **AUTH_SETTINGS
    )
    return server, provider


async def whoami(server: RunningServer, headers: dict[str, str], **kw: Any) -> httpx.Response:
    async with server.client(**kw) as c:
        return await c.get("/v1/me", headers=headers)


async def test_hs256_tokens_map_roles_and_bad_ones_are_refused(auth_server: RunningServer) -> None:
    ok = await whoami(auth_server, bearer(token("alice")))
    assert ok.json().items() >= {"user_id": "alice", "role": "user", "via": "jwt"}.items()
    service = await whoami(auth_server, bearer(token("backend", role="service_role")))
    assert service.json()["role"] == "service"
    refused = {
        "expired": token(exp=NOW - 120),
        "not yet valid (nbf)": token(nbf=NOW + 600),
        "issued in the future": token(iat=NOW + 600),
        "wrong audience": token(aud="someone-else"),
        "bad signature": token(_secret="another-secret-that-is-long-enough-too!!"),
        "no sub": token(sub=None),
        "no exp": token(exp=None),
        "anon role": token(role="anon"),
        "alg none": jwt.encode({"sub": "alice", "exp": NOW + 60}, None, algorithm="none"),
        "garbage": "abc.def.ghi",
        "RS256 without a JWKS": jwt.encode(
            {"sub": "alice", "exp": NOW + 60},
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
        ),
    }
    for why, value in refused.items():
        r = await whoami(auth_server, bearer(value))
        assert r.status_code == 401, why
        assert r.json()["code"] == "UNAUTHORIZED", why
        assert SECRET not in r.text
    basic = await whoami(auth_server, {"Authorization": "Basic YWxpY2U6cHc="})
    assert basic.status_code == 401


async def test_cookies_carry_the_jwt(auth_server: RunningServer) -> None:
    for name in ("auth_token", "sb-access-token"):
        r = await whoami(auth_server, {}, cookies={name: token("carol")})
        assert r.status_code == 200, name
        assert r.json()["user_id"] == "carol"
    r = await whoami(auth_server, {}, cookies={"auth_token": token(exp=NOW - 100)})
    assert r.status_code == 401


async def test_jwks_tokens_rotation_and_algorithm_confusion(
    idp_server: tuple[RunningServer, Jwks],
) -> None:
    server, provider = idp_server
    assert (await whoami(server, bearer(provider.sign("rsa-1", "RS256")))).status_code == 200
    assert (await whoami(server, bearer(provider.sign("ec-1", "ES256")))).status_code == 200
    fetches = provider.fetches
    # Cached: more requests do not refetch the keys.
    await whoami(server, bearer(provider.sign("rsa-1", "RS256")))
    assert provider.fetches == fetches
    # Rotation: a new kid makes genq fetch the set again (at most once a second) and accept it.
    await asyncio.sleep(1.1)
    provider.add("rsa-2", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    r = await whoami(server, bearer(provider.sign("rsa-2", "RS256", sub="dave")))
    assert r.status_code == 200
    assert r.json()["user_id"] == "dave"
    assert provider.fetches == fetches + 1
    # Algorithm confusion: the RSA public key used as an HMAC secret is refused (HS256 is
    # checked against the configured secret only), and so is an RS256 header on an EC key.
    public_pem = (
        provider.keys["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    forged = _hmac_with(public_pem, {"sub": "mallory", "exp": NOW + 60}, kid="rsa-1")
    assert (await whoami(server, bearer(forged))).status_code == 401
    mismatched = jwt.encode(
        {"sub": "mallory", "exp": NOW + 60},
        provider.keys["ec-1"],
        algorithm="ES256",
        headers={"kid": "rsa-1"},
    )
    assert (await whoami(server, bearer(mismatched))).status_code == 401
    # A kid the provider does not publish is refused.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = jwt.encode(
        {"sub": "x", "exp": NOW + 60}, stranger, algorithm="RS256", headers={"kid": "zz"}
    )
    assert (await whoami(server, bearer(bad))).status_code == 401


def _hmac_with(secret: bytes, claims: dict[str, Any], kid: str) -> str:
    """An HS256 token signed with arbitrary bytes (PyJWT refuses PEM keys as HMAC secrets,
    so this is signed by hand, as an attacker would)."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    auth_server: RunningServer,
) -> None:
    admin = bearer(token("root", role="admin"))
    async with auth_server.client() as c:
        made = await c.post(
            "/v1/keys", json={"name": "ci", "role": "service", "user_id": "ci-bot"}, headers=admin
        )
        assert made.status_code == 201
        key = made.json()["key"]
        assert key.startswith("gq_")
        assert made.json()["prefix"] == key[:10]
        listed = (await c.get("/v1/keys", headers=admin)).json()["keys"]
        assert key not in str(listed)
        assert [k["prefix"] for k in listed] == [key[:10]]
        me = (await c.get("/v1/me", headers={"X-API-Key": key})).json()
        assert me.items() >= {"user_id": "ci-bot", "role": "service", "via": "api_key"}.items()
        assert (await c.get("/v1/me", headers=bearer(key))).status_code == 200
        used = (await c.get("/v1/keys", headers=admin)).json()["keys"][0]
        assert used["last_used_at"] is not None
        bad = await c.post("/v1/keys", json={"name": "x", "role": "root"}, headers=admin)
        assert bad.status_code == 400
        assert bad.json()["code"] == "INVALID_REQUEST"
        revoked = await c.delete(f"/v1/keys/{used['id']}", headers=admin)
        assert revoked.json()["active"] is False
        r = await c.get("/v1/me", headers={"X-API-Key": key})
        assert r.status_code == 401
        assert "revoked" in r.json()["message"]
        assert (await c.delete("/v1/keys/nope", headers=admin)).status_code == 404
    # Only the hash is in the database.
    store: Any = auth_server.node.store
    async with store.engine.connect() as conn:
        rows = (await conn.execute(api_keys.select())).all()
    assert key not in repr(rows)


async def test_stream_tokens_open_one_stream_only(auth_server: RunningServer) -> None:
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    async with auth_server.client() as c:
        mine = (await c.post("/v1/jobs", json={"type": "noop"}, headers=alice)).json()
        other = (await c.post("/v1/jobs", json={"type": "noop"}, headers=alice)).json()
        for job in (mine, other):
            await c.post(f"/v1/jobs/{job['id']}/cancel", headers=alice)  # streams end
        # Bob cannot get a token for alice's job.
        r = await c.post("/v1/auth/stream-token", json={"job_id": mine["id"]}, headers=bob)
        assert r.status_code == 404
        issued = await c.post("/v1/auth/stream-token", json={"job_id": mine["id"]}, headers=alice)
        assert issued.status_code == 201
        t = issued.json()["token"]
        assert 0 < issued.json()["expires_in"] <= 300
        ok = await c.get(f"/v1/jobs/{mine['id']}/events", params={"token": t})
        assert ok.status_code == 200
        assert "event: job_cancelled" in ok.text
        for path in (f"/v1/jobs/{other['id']}/events", "/v1/events"):
            r = await c.get(path, params={"token": t})
            assert r.status_code == 401, path
        # A stream token is no bearer token, and works on no other route.
        assert (await c.get("/v1/jobs", headers=bearer(t))).status_code == 401
        assert (await c.get("/v1/jobs", params={"token": t})).status_code == 401
        # A token for the caller's own event stream.
        everything = (await c.post("/v1/auth/stream-token", json={}, headers=alice)).json()
        async with c.stream("GET", "/v1/events", params={"token": everything["token"]}) as r:
            assert r.status_code == 200
        expired = jwt.encode(
            {"sub": "alice", "role": "user", "job": mine["id"], "aud": "genq:stream",
             "exp": NOW - 60},
            await auth_server.node.stream_secret(),
            algorithm="HS256",
        )  # fmt: skip
        r = await c.get(f"/v1/jobs/{mine['id']}/events", params={"token": expired})
        assert r.status_code == 401


async def test_worker_credentials_are_refused_on_the_client_api(
    auth_server: RunningServer,
) -> None:
    key, _ = await auth_server.node.keys.create("gpu-1", "worker", "gpu-1")
    async with auth_server.client() as c:
        r = await c.get("/v1/jobs", headers={"X-API-Key": key})
    assert r.status_code == 403
    assert r.json()["code"] == "FORBIDDEN"
