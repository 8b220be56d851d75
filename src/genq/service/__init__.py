"""The service layer: job operations and event fan-out, shared by the API, CLI and workers."""

from genq.service.events import EventHub, Watcher
from genq.service.jobs import JobService, SubmitRequest

__all__ = ["EventHub", "JobService", "SubmitRequest", "Watcher"]
