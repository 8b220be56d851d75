"""genq: a self-hosted server for AI generation jobs, with live progress over SSE."""

from __future__ import annotations

__version__ = "0.1.0"

from genq.domain.errors import JobError, NonRetryableError
from genq.domain.retry import RetryPolicy
from genq.settings import Settings
from genq.worker.context import JobContext
from genq.worker.registry import JobType, Registry

__all__ = [
    "JobContext",
    "JobError",
    "JobType",
    "NonRetryableError",
    "Registry",
    "RetryPolicy",
    "Settings",
    "__version__",
]
