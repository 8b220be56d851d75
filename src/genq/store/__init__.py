"""Durable storage of jobs and events: the seam (``base``) and one implementation per database."""

from __future__ import annotations

from genq.store.base import Store


def normalise_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick genq's async drivers."""
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def make_store(url: str) -> Store:
    """The store for a database URL."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        from genq.store.sqlite import SqliteStore

        return SqliteStore(url)
    from genq.store.postgres import PostgresStore

    return PostgresStore(url)


__all__ = ["Store", "make_store", "normalise_url"]
