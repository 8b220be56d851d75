"""An incremental Server-Sent Events decoder (the WHATWG parsing rules), free of I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event; ``id`` is the last event id in force when it was dispatched."""

    event: str
    data: str
    id: str | None


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the complete messages so far."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self.last_event_id: str | None = None
        self.comments: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Decode a chunk; return the messages it completed."""
        self._buffer += chunk
        out: list[SSEMessage] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return out
            end, skip = cut
            line = self._buffer[:end].decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + skip :]
            message = self._line(line)
            if message is not None:
                out.append(message)

    def _line(self, line: str) -> SSEMessage | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            message = SSEMessage(
                self._event or "message", "\n".join(self._data), self.last_event_id
            )
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\x00" not in value:
            self.last_event_id = value
        return None


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """Where the first line ends and how long its terminator is (CRLF, LF or CR)."""
    for i, byte in enumerate(buffer):
        if byte == 0x0A:
            return i, 1
        if byte == 0x0D:
            if i + 1 == len(buffer):
                return None  # a CR at the end may be the start of a CRLF
            return i, 2 if buffer[i + 1] == 0x0A else 1
    return None
