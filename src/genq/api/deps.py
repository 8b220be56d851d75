"""Request-scoped dependencies: the node's services and the caller."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from genq.domain.job import LOCAL_OWNER
from genq.node import Node


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. Until auth is configured, everyone is the local admin."""

    user_id: str
    admin: bool

    @property
    def scope(self) -> str | None:
        """The owner whose jobs the caller may see; None for all jobs."""
        return None if self.admin else self.user_id


# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, a
# thread hand-off on every request.


async def node(request: Request) -> Node:
    """The genq node serving this app."""
    value: Node = request.app.state.node
    return value


async def principal(request: Request) -> Principal:
    """The caller. A seam for authentication: today, the local admin user."""
    return Principal(LOCAL_OWNER, admin=True)
