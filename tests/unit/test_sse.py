"""The SSE wire format: encoding once, decoding as a browser would."""

from __future__ import annotations

import orjson
import pytest

from genq.client import SSEDecoder
from genq.domain.events import Event
from genq.domain.sse import comment, frame, global_frame, job_frame, parse_last_event_id


def test_frame_has_id_event_and_one_data_line() -> None:
    assert frame({"a": "x\ny"}, "progress", 7) == b'id: 7\nevent: progress\ndata: {"a":"x\\ny"}\n\n'


def test_job_and_global_frames_use_their_own_ids() -> None:
    e = Event(job_id="j", seq=3, type="log", data={"m": 1}, timestamp=0.0, cursor=99)
    assert job_frame(e).startswith(b"id: 3\nevent: log\n")
    assert global_frame(e).startswith(b"id: 99\nevent: log\n")


def test_decoder_round_trips_frames_split_at_every_byte() -> None:
    stream = comment("hello") + frame({"n": 1}, "a", 1) + frame({"n": 2}, None, 2)
    decoder = SSEDecoder()
    messages = []
    for i in range(len(stream)):
        messages += decoder.feed(stream[i : i + 1])
    assert [(m.event, orjson.loads(m.data), m.id) for m in messages] == [
        ("a", {"n": 1}, "1"),
        ("message", {"n": 2}, "2"),
    ]
    assert decoder.comments == ["hello"]


def test_decoder_handles_crlf_multiline_data_and_id_persistence() -> None:
    decoder = SSEDecoder()
    messages = decoder.feed(b"id: 5\r\ndata: one\r\ndata: two\r\n\r\nevent: x\ndata: 3\n\n")
    assert [(m.data, m.id) for m in messages] == [("one\ntwo", "5"), ("3", "5")]


def test_decoder_ignores_events_without_data() -> None:
    assert SSEDecoder().feed(b"event: nothing\n\n: c\n\n") == []


@pytest.mark.parametrize(
    ("header", "expected"), [(None, 0), ("", 0), ("12", 12), (" 4 ", 4), ("x", 0), ("-3", 0)]
)
def test_last_event_id_parsing(header: str | None, expected: int) -> None:
    assert parse_last_event_id(header) == expected
