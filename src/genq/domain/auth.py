"""Who is calling: roles, the principal, and what each role may do. Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a caller is.

    ``user`` owns jobs and sees only those; ``admin`` sees and manages everything;
    ``service`` is a backend acting for its users (it sees everything, and may name the
    user it acts for); ``worker`` is a remote GPU worker, which speaks only the worker
    protocol.
    """

    USER = "user"
    ADMIN = "admin"
    SERVICE = "service"
    WORKER = "worker"


class Via(StrEnum):
    """How the caller proved who it is."""

    LOCAL = "local"  # no auth configured: the one local admin
    JWT = "jwt"
    API_KEY = "api_key"
    STREAM_TOKEN = "stream_token"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``stream_job`` is set for a stream token that is valid for one job's events only;
    ``key_id`` for a caller that came with an API key.
    """

    user_id: str
    role: Role
    via: Via
    key_id: str | None = None
    stream_job: str | None = None

    @property
    def privileged(self) -> bool:
        """Admins and services see every job."""
        return self.role in (Role.ADMIN, Role.SERVICE)

    @property
    def admin(self) -> bool:
        """Whether the caller may manage genq itself (keys, grants, cleaning)."""
        return self.role is Role.ADMIN

    @property
    def scope(self) -> str | None:
        """The owner whose jobs the caller may see; None for all jobs."""
        return None if self.privileged else self.user_id

    @property
    def limit_key(self) -> str:
        """Whose counters a request of this caller spends."""
        return f"{self.role.value}:{self.user_id}"

    def acting_for(self, user_id: str) -> Principal:
        """A service acting for one of its users: from here on, that user."""
        return Principal(user_id, Role.USER, self.via, self.key_id)


# Supabase's role claim values, and genq's own, mapped to genq roles. A token whose role is
# not here (Supabase's ``anon``, say) is refused.
DEFAULT_ROLE_CLAIMS: dict[str, str] = {
    "authenticated": Role.USER.value,
    "user": Role.USER.value,
    "service_role": Role.SERVICE.value,
    "service": Role.SERVICE.value,
    "admin": Role.ADMIN.value,
    "worker": Role.WORKER.value,
}


def role_from_claim(value: object, mapping: dict[str, str]) -> Role | None:
    """The genq role a token's role claim maps to (a missing claim means ``user``)."""
    if value is None:
        return Role.USER
    if not isinstance(value, str) or value not in mapping:
        return None
    try:
        return Role(mapping[value])
    except ValueError:
        return None
