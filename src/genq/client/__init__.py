"""The genq SDK: a client of the HTTP API, with SSE streams that resume by Last-Event-ID."""

from genq.client._client import ApiError, Client
from genq.client._sse import SSEDecoder, SSEMessage

__all__ = ["ApiError", "Client", "SSEDecoder", "SSEMessage"]
