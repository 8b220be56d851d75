"""Pure parts of generation: token counting, the demo provider, blob keys, image fitting."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from genq.blobs import LocalBlobs, check_key
from genq.domain.errors import InvalidRequest, ProviderError
from genq.domain.tokens import count_tokens, truncate_to_tokens
from genq.pipelines.imaging import cover, inspect
from genq.providers import demo
from genq.providers.tasks import PollPolicy, next_interval


def test_token_counts_and_truncation() -> None:
    assert count_tokens("a cat, on a sofa.") == 7
    assert count_tokens("photorealistic") == 3  # long words cost more than one token
    long = " ".join(["word"] * 200)
    cut = truncate_to_tokens(long, 75)
    assert count_tokens(cut) == 75
    assert long.startswith(cut)
    assert truncate_to_tokens("short prompt", 75) == "short prompt"


def test_demo_drawing_is_deterministic_sized_and_not_blank() -> None:
    one = demo.draw("a lighthouse at dawn", 320, 200)
    assert one == demo.draw("a lighthouse at dawn", 320, 200)
    assert one != demo.draw("a lighthouse at dusk", 320, 200)
    with Image.open(io.BytesIO(one)) as img:
        assert img.size == (320, 200)
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None
        assert len(colours) > 50


def test_demo_text_fits_its_budget_and_groups_topics() -> None:
    enhanced = demo.enhance("a quiet harbour", 30, video=True)
    assert enhanced.startswith("a quiet harbour")
    assert count_tokens(enhanced) <= 30
    questions = [
        {"text": "What does a firewall filter?"},
        {"text": "Which firewall rule blocks port 22?"},
        {"text": "How does encryption protect data?"},
    ]
    topics = demo.topics(questions)["topics"]
    assert topics[0] == {"name": "Firewall", "questions": [0, 1]}
    assert sorted(i for t in topics for i in t["questions"]) == [0, 1, 2]


def test_cover_crops_to_the_exact_size_without_stretching() -> None:
    wide = Image.new("RGB", (400, 100), (10, 20, 30))
    buf = io.BytesIO()
    wide.save(buf, "PNG")
    out = cover(buf.getvalue(), 100, 100)
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (100, 100)
        assert img.format == "JPEG"
    assert inspect(buf.getvalue(), "image/png").extension == "png"
    with pytest.raises(ProviderError):
        inspect(b"<html>nope</html>", None)
    with pytest.raises(ProviderError):
        inspect(buf.getvalue(), "text/html")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "jobs//x", "jobs/../x", "a\\b", ""])
def test_blob_keys_cannot_leave_the_store(key: str) -> None:
    with pytest.raises(InvalidRequest):
        check_key(key)


async def test_local_blobs_round_trip_and_delete(tmp_path: object) -> None:
    blobs = LocalBlobs(str(tmp_path), "https://genq.example")
    stored = await blobs.put("jobs/j1/a.png", b"png-bytes", "image/png")
    assert stored.url == "https://genq.example/files/jobs/j1/a.png"
    assert await blobs.get("jobs/j1/a.png") == (b"png-bytes", "image/png")
    assert await blobs.get("jobs/j1/a.png.content-type") is None
    assert await blobs.delete_prefix("jobs/j1/") == 1
    assert await blobs.get("jobs/j1/a.png") is None


def test_poll_intervals_grow_to_the_cap() -> None:
    policy = PollPolicy(initial_s=1.0, max_interval_s=8.0)
    waits, interval = [], 0.5
    for _ in range(8):
        interval = next_interval(interval, policy)
        waits.append(interval)
    assert waits[0] <= 1.2
    assert max(waits) <= 8.0
    assert waits[-1] >= 6.4
