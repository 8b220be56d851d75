"""Authentication: who a request comes from, by JWT, API key or stream token.

- JWTs come in ``Authorization: Bearer`` or a cookie. HS256 is checked with the shared
  secret (Supabase's JWT secret); RS256 and ES256 with the key of the token's ``kid`` from
  the JWKS URL, fetched again when an unknown ``kid`` shows up (key rotation). The
  algorithm decides the key, never the other way round: an HS256 token is only ever
  checked against the secret, an RS256 one only against an RSA key, so a public key can
  never be used as an HMAC secret (algorithm confusion), and ``none`` is refused.
- API keys come in ``X-API-Key`` (or as a bearer credential starting ``gq_``).
- Stream tokens, for browsers' EventSource (which cannot send headers), come as
  ``?token=`` on the SSE routes only; they are short-lived and signed by genq itself.

This module imports PyJWT (and through it ``cryptography``), about 0.2 s of start-up, so
the node loads it only when authentication is on or a stream token is asked for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from genq.domain.auth import Principal, Role, Via, role_from_claim
from genq.domain.errors import Forbidden, Unauthorized
from genq.service.keys import ApiKeys, looks_like_key
from genq.settings import Settings

log = logging.getLogger("genq.auth")

_ASYMMETRIC = {"RS256": "RSA", "ES256": "EC"}
_STREAM_AUDIENCE = "genq:stream"
# An unknown kid refetches the JWKS (a rotated key), at most this often: tokens with made-up
# kids cannot make genq hammer the identity provider.
_JWKS_MIN_REFRESH_S = 1.0
ALL_JOBS = "*"


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _reason(exc: jwt.PyJWTError) -> str:
    """What to tell a client about a refused token: enough to act on, nothing internal."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is not meant for this server (audience)"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the token was issued by an issuer this server does not trust"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature is not valid"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token lacks the {exc.claim!r} claim"
    if isinstance(exc, jwt.DecodeError):
        return "the token is malformed"
    return "the token is not valid"


class JwksCache:
    """The keys at a JWKS URL, kept for ``ttl_s`` and refetched when an unknown kid appears."""

    def __init__(self, url: str, ttl_s: float, client: httpx.AsyncClient) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.client = client
        self._keys: dict[str, PyJWK] = {}
        self._fetched = -float("inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> PyJWK | None:
        """The key with this kid (the only key, if the token names none)."""
        now = time.monotonic()
        stale = now - self._fetched > self.ttl_s
        unknown = kid not in self._keys if kid else not self._keys
        if stale or (unknown and now - self._fetched > _JWKS_MIN_REFRESH_S):
            await self._refresh()
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched < _JWKS_MIN_REFRESH_S:
                return  # another request refreshed while this one waited
            try:
                response = await self.client.get(self.url)
                response.raise_for_status()
                keyset = PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                # Keep the keys we have: a JWKS outage must not log everyone out.
                log.warning("JWKS fetch from %s failed: %s", self.url, type(exc).__name__)
                self._fetched = time.monotonic() - self.ttl_s + _JWKS_MIN_REFRESH_S
                return
            self._keys = {k.key_id or f"#{i}": k for i, k in enumerate(keyset.keys)}
            self._fetched = time.monotonic()


class Authenticator:
    """Turns a request's credentials into a :class:`Principal`, or refuses it with 401."""

    def __init__(
        self, settings: Settings, keys: ApiKeys, stream_secret: Callable[[], Awaitable[str]]
    ) -> None:
        self.settings = settings
        self.keys = keys
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._stream_secret = stream_secret
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._jwks = (
            JwksCache(settings.jwks_url, settings.jwks_cache_s, self._http)
            if settings.jwks_url
            else None
        )

    async def close(self) -> None:
        await self._http.aclose()

    # --- requests ----------------------------------------------------------------------------

    async def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        stream_token: str | None = None,
        stream_job: str | None = None,
        worker_protocol: bool = False,
    ) -> Principal:
        """The caller of a request. ``stream_token``/``stream_job`` only on SSE routes
        (``stream_job`` is the watched job, or :data:`ALL_JOBS`); the worker protocol's
        routes take worker and admin credentials only, the rest of the API no worker's."""
        principal = await self._identify(headers, cookies, stream_token, stream_job)
        if worker_protocol:
            if principal.role not in (Role.WORKER, Role.ADMIN):
                raise Forbidden("the worker protocol needs worker credentials")
            return principal
        if principal.role is Role.WORKER:
            raise Forbidden("worker credentials are for the worker protocol only")
        on_behalf = headers.get("x-on-behalf-of")
        if on_behalf is not None:
            if principal.role is not Role.SERVICE:
                raise Forbidden("only a service may act on behalf of a user")
            if not on_behalf.strip() or len(on_behalf) > 200:
                raise Unauthorized("X-On-Behalf-Of must name a user (at most 200 characters)")
            return principal.acting_for(on_behalf.strip())
        return principal

    async def _identify(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        stream_token: str | None,
        stream_job: str | None,
    ) -> Principal:
        key = headers.get("x-api-key")
        if key is not None:
            return await self.keys.authenticate(key)
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthorized("Authorization must be 'Bearer <token>'")
            if looks_like_key(credential):
                return await self.keys.authenticate(credential)
            return await self.verify_jwt(credential)
        if stream_token is not None and stream_job is not None:
            return await self.verify_stream_token(stream_token, stream_job)
        for name in self.settings.auth_cookies:
            token = cookies.get(name)
            if token:
                return await self.verify_jwt(token)
        raise Unauthorized(
            "credentials are required: a bearer token, an X-API-Key, or a session cookie"
        )

    # --- JWTs ---------------------------------------------------------------------------------

    async def verify_jwt(self, token: str) -> Principal:
        """The principal a JWT from the identity provider stands for."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(_reason(exc)) from None
        alg = header.get("alg")
        key: Any
        if alg == "HS256" and self._secret is not None:
            key = self._secret
        elif alg in _ASYMMETRIC and self._jwks is not None:
            kid = header.get("kid")
            jwk = await self._jwks.key(kid if isinstance(kid, str) else None)
            if jwk is None or jwk.key_type != _ASYMMETRIC[alg]:
                raise Unauthorized("the token is signed with a key this server does not know")
            key = jwk.key
        else:
            raise Unauthorized(f"tokens signed with {alg!r} are not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.settings.jwt_audience is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_reason(exc)) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise Unauthorized("the token's subject is not a user id")
        role = role_from_claim(
            _claim(claims, self.settings.jwt_role_claim), self.settings.jwt_roles
        )
        if role is None:
            raise Unauthorized("the token's role is not allowed here")
        return Principal(subject, role, Via.JWT)

    # --- stream tokens ------------------------------------------------------------------------

    async def verify_stream_token(self, token: str, stream_job: str) -> Principal:
        """The principal of a stream token, if it is valid for ``stream_job``."""
        secret = await self._stream_secret()
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=_STREAM_AUDIENCE,
                options={"require": ["exp", "sub", "job", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("stream token: " + _reason(exc)) from None
        if claims["job"] != stream_job:
            raise Unauthorized("this stream token is for another stream")
        try:
            role = Role(claims["role"])
        except ValueError:
            raise Unauthorized("stream token: the token is not valid") from None
        job = None if stream_job == ALL_JOBS else stream_job
        return Principal(str(claims["sub"]), role, Via.STREAM_TOKEN, stream_job=job)


def issue_stream_token(
    secret: str, principal: Principal, job_id: str | None, ttl_s: float
) -> tuple[str, float]:
    """Sign a stream token; returns it with its expiry (epoch seconds)."""
    now = time.time()
    expires = now + ttl_s
    claims = {
        "sub": principal.user_id,
        "role": principal.role.value,
        "job": job_id or ALL_JOBS,
        "aud": _STREAM_AUDIENCE,
        "iat": int(now),
        "exp": int(expires),
    }
    return jwt.encode(claims, secret, algorithm="HS256"), float(int(expires))
