"""Errors a caller can act on, each with a stable code and the HTTP status it maps to.

::

    GenqError                      base: code, HTTP status, message, details
    ├── InvalidRequest             400 INVALID_REQUEST (bad field, unknown job type, bad JSON)
    ├── Unauthorized               401 UNAUTHORIZED
    ├── Forbidden                  403 FORBIDDEN
    ├── NotFound                   404 NOT_FOUND (no such route)
    ├── JobNotFound                404 JOB_NOT_FOUND
    ├── ExamNotFound               404 EXAM_NOT_FOUND
    ├── CourseNotFound             404 COURSE_NOT_FOUND
    ├── MethodNotAllowed           405 METHOD_NOT_ALLOWED
    ├── InvalidTransition          409 INVALID_TRANSITION (e.g. cancel a completed job)
    ├── IdempotencyConflict        409 IDEMPOTENCY_KEY_REUSED
    ├── PayloadTooLarge            413 PAYLOAD_TOO_LARGE
    ├── RateLimitExceeded          429 RATE_LIMIT_EXCEEDED
    ├── JobLimitExceeded           429 JOB_LIMIT_EXCEEDED
    ├── InsufficientCredits        402 INSUFFICIENT_CREDITS
    ├── UpstreamFailed             502 PROVIDER_ERROR (an AI call made for a request)
    ├── UpstreamTimeout            504 PROVIDER_TIMEOUT
    ├── UpstreamRateLimited        503 PROVIDER_RATE_LIMITED
    ├── StoreUnavailable           503 SERVICE_UNAVAILABLE
    └── InternalError              500 INTERNAL_ERROR

Codes follow seed 001. Job failures use :class:`JobError` codes (``TIMEOUT``,
``HANDLER_ERROR``, ``LEASE_EXPIRED`` ...), which live in a job's ``error`` field, not in
HTTP answers; an AI provider's failure, once its retries are spent, is a
:class:`ProviderError` (``PROVIDER_ERROR``, ``PROVIDER_TIMEOUT``,
``PROVIDER_RATE_LIMITED``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class GenqError(Exception):
    """Base of every error genq reports to a client."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str | None = None, details: Any = None) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.details = details
        self.headers: dict[str, str] = {}

    def with_headers(self, headers: dict[str, str]) -> Self:
        """The same error, answered with these HTTP headers too (e.g. Retry-After)."""
        self.headers = {**self.headers, **headers}
        return self


class InvalidRequest(GenqError):
    """The request is malformed or names something that does not exist."""

    code, status, title = "INVALID_REQUEST", 400, "Invalid request"


class Unauthorized(GenqError):
    """No valid credentials were given."""

    code, status, title = "UNAUTHORIZED", 401, "Unauthorized"


class Forbidden(GenqError):
    """The caller is known but may not do this."""

    code, status, title = "FORBIDDEN", 403, "Forbidden"


class NotFound(GenqError):
    """No route matches the path."""

    code, status, title = "NOT_FOUND", 404, "Not found"


class JobNotFound(GenqError):
    """No job with this id is visible to the caller."""

    code, status, title = "JOB_NOT_FOUND", 404, "Job not found"


class ExamNotFound(GenqError):
    """No exam with this id is visible to the caller."""

    code, status, title = "EXAM_NOT_FOUND", 404, "Exam not found"


class CourseNotFound(GenqError):
    """No course with this id is visible to the caller."""

    code, status, title = "COURSE_NOT_FOUND", 404, "Course not found"


class MethodNotAllowed(GenqError):
    """The route exists but not with this method."""

    code, status, title = "METHOD_NOT_ALLOWED", 405, "Method not allowed"


class InvalidTransition(GenqError):
    """The job's state does not allow the asked change (e.g. cancelling a completed job)."""

    code, status, title = "INVALID_TRANSITION", 409, "Invalid state transition"


class IdempotencyConflict(GenqError):
    """An Idempotency-Key was reused with a different request."""

    code, status, title = "IDEMPOTENCY_KEY_REUSED", 409, "Idempotency key reused"


class PayloadTooLarge(GenqError):
    """The request body is over the configured limit."""

    code, status, title = "PAYLOAD_TOO_LARGE", 413, "Payload too large"


class RateLimitExceeded(GenqError):
    """Too many requests in the current window."""

    code, status, title = "RATE_LIMIT_EXCEEDED", 429, "Rate limit exceeded"


class JobLimitExceeded(GenqError):
    """The caller has too many active jobs."""

    code, status, title = "JOB_LIMIT_EXCEEDED", 429, "Job limit exceeded"


class InsufficientCredits(GenqError):
    """The caller's balance does not cover the job."""

    code, status, title = "INSUFFICIENT_CREDITS", 402, "Insufficient credits"


class UpstreamFailed(GenqError):
    """An AI provider failed while genq answered a request directly (not in a job)."""

    code, status, title = "PROVIDER_ERROR", 502, "The AI provider failed"


class UpstreamTimeout(GenqError):
    """An AI provider did not answer in time while genq answered a request directly."""

    code, status, title = "PROVIDER_TIMEOUT", 504, "The AI provider timed out"


class UpstreamRateLimited(GenqError):
    """An AI provider kept rate limiting genq while it answered a request directly."""

    code, status, title = "PROVIDER_RATE_LIMITED", 503, "The AI provider is rate limiting"


class StoreUnavailable(GenqError):
    """The database cannot be reached; the request changed nothing."""

    code, status, title = "SERVICE_UNAVAILABLE", 503, "Service unavailable"


class InternalError(GenqError):
    """Something unexpected failed; details are in the server log, never in the answer."""


class JobError(Exception):
    """Raised by a handler to fail the current attempt with a code of its choosing.

    ``retryable=False`` ends the job at once, whatever attempts are left.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "HANDLER_ERROR",
        retryable: bool = True,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.details = details


class NonRetryableError(JobError):
    """A handler failure that no further attempt can fix."""

    def __init__(self, message: str, *, code: str = "HANDLER_ERROR", details: Any = None) -> None:
        super().__init__(message, code=code, retryable=False, details=details)


class ProviderError(JobError):
    """An AI provider failed (after its retries): a bad answer, a 4xx or a 5xx."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "PROVIDER_ERROR",
        retryable: bool = True,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable, details=details)


class ProviderTimeout(ProviderError):
    """An AI provider did not answer, or a task did not finish, in time."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message, code="PROVIDER_TIMEOUT", details=details)


class ProviderRateLimited(ProviderError):
    """An AI provider kept answering 429 after every retry."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message, code="PROVIDER_RATE_LIMITED", details=details)


def upstream(exc: ProviderError) -> GenqError:
    """The HTTP answer for a provider failure met while serving a request."""
    kind: type[GenqError] = {
        "PROVIDER_TIMEOUT": UpstreamTimeout,
        "PROVIDER_RATE_LIMITED": UpstreamRateLimited,
    }.get(exc.code, UpstreamFailed)
    return kind(str(exc), exc.details)
