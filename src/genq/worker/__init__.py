"""Running work: the registry of job types, the handler context and the worker runtime."""

from genq.worker.context import JobContext
from genq.worker.registry import JobType, Registry
from genq.worker.runtime import Worker, WorkerConfig

__all__ = ["JobContext", "JobType", "Registry", "Worker", "WorkerConfig"]
