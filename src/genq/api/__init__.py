"""The HTTP layer: the native ``/v1`` API, SSE streams, health and metrics."""

from genq.api.app import create_app

__all__ = ["create_app"]
