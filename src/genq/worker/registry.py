"""Job types: a name, a handler, where it runs and how it is retried and timed out."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from genq.domain.errors import InvalidRequest
from genq.domain.retry import RetryPolicy

if typing.TYPE_CHECKING:
    from genq.store.base import Store
    from genq.worker.context import JobContext

Handler = Callable[["JobContext", Any], Awaitable[Any]]
# Run at submission with (store, owner, parsed params): raises a GenqError when the params
# name something the owner cannot use (a 404 for another user's exam), and may return the
# job's default dedupe key (seed 003: one active course job per exam).
Admit = Callable[["Store", str, Any], Awaitable[str | None]]


@dataclass(slots=True)
class JobType:
    """A registered kind of job."""

    name: str
    handler: Handler
    queue: str = "default"
    max_attempts: int = 3
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float | None = None
    params_model: type[BaseModel] | None = None
    description: str = ""
    admit: Admit | None = None

    def parse(self, params: dict[str, Any]) -> Any:
        """Validated params for the handler: the params model, or the dict itself."""
        if self.params_model is None:
            return params
        try:
            return self.params_model.model_validate(params)
        except ValidationError as exc:
            raise InvalidRequest(
                f"invalid params for job type {self.name!r}",
                {"fields": field_errors(exc, prefix="params")},
            ) from None


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as ``[{field, message}]``, the field a dotted path."""
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        out.append({"field": path, "message": err["msg"]})
    return out


class Registry:
    """The job types a genq process knows."""

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def add(self, job_type: JobType) -> JobType:
        """Register a job type; a name is registered once."""
        if job_type.name in self._types:
            raise ValueError(f"job type {job_type.name!r} is already registered")
        self._types[job_type.name] = job_type
        return job_type

    def job(
        self,
        name: str,
        *,
        queue: str = "default",
        max_attempts: int = 3,
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
        params: type[BaseModel] | None = None,
        admit: Admit | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator: register an ``async def handler(ctx, params)`` as job type ``name``.

        The params model is taken from ``params`` or from the handler's annotation.
        """

        def register(handler: Handler) -> Handler:
            model = params or _annotated_model(handler)
            doc = inspect.getdoc(handler) or ""
            self.add(
                JobType(
                    name=name,
                    handler=handler,
                    queue=queue,
                    max_attempts=max_attempts,
                    retry=retry or RetryPolicy(),
                    timeout_s=timeout_s,
                    params_model=model,
                    description=doc.splitlines()[0] if doc else "",
                    admit=admit,
                )
            )
            return handler

        return register

    def get(self, name: str) -> JobType | None:
        """The job type called ``name``, if registered."""
        return self._types.get(name)

    def require(self, name: str) -> JobType:
        """The job type called ``name``, or a 400 that lists the known ones."""
        job_type = self._types.get(name)
        if job_type is None:
            raise InvalidRequest(
                f"unknown job type {name!r}", {"field": "type", "known_types": self.names()}
            )
        return job_type

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._types)

    def queues(self) -> list[str]:
        """Every queue some registered type runs on."""
        return sorted({t.queue for t in self._types.values()})

    def __iter__(self) -> typing.Iterator[JobType]:
        return iter(self._types.values())


def _annotated_model(handler: Handler) -> type[BaseModel] | None:
    try:
        hints = typing.get_type_hints(handler)
    except Exception:
        return None
    names = [p for p in inspect.signature(handler).parameters if p != "return"]
    if len(names) < 2:
        return None
    hint = hints.get(names[1])
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    return None
