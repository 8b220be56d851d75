"""Remote workers' pure parts: registry status, push signatures, callback URL signatures."""

from __future__ import annotations

from genq.domain.workers import (
    attempt_signature,
    callback_secret,
    checked,
    sign_push,
    status,
    valid_attempt_signature,
    verify_push,
)
from genq.pipelines.gpu import output_of


def test_status_follows_how_long_a_worker_was_silent() -> None:
    assert status(100.0, 100.0 + 20, heartbeat_s=10) == "healthy"
    assert status(100.0, 100.0 + 21, heartbeat_s=10) == "unhealthy"
    assert status(100.0, 100.0 + 50, heartbeat_s=10) == "unhealthy"
    assert status(100.0, 100.0 + 51, heartbeat_s=10) == "offline"


def test_a_failed_health_check_makes_a_live_worker_unhealthy() -> None:
    failing = checked(False, 100.0, 3, None, "ConnectError")
    assert status(100.0, 101.0, 10, failing) == "unhealthy"


def test_a_passing_health_check_counts_as_hearing_from_the_worker() -> None:
    # A callback worker with no jobs never calls genq; its health URL shows it is alive.
    fine = checked(True, 1000.0, 3, 200)
    assert status(0.0, 1001.0, 10, fine) == "healthy"
    assert status(0.0, 1001.0, 10, None) == "offline"


def test_a_push_signature_holds_only_for_its_body_secret_and_time() -> None:
    body = b'{"job": 1}'
    header = sign_push("s3cret", 1_000, body)
    assert header.startswith("t=1000,v1=")
    assert verify_push("s3cret", header, body, now=1_000)
    assert verify_push("s3cret", header.replace(",", ", "), body, now=1_100)
    assert not verify_push("s3cret", header, b'{"job": 2}', now=1_000)
    assert not verify_push("other", header, body, now=1_000)
    assert not verify_push("s3cret", header, body, now=1_000 + 301)  # replayed later
    assert not verify_push("s3cret", header.replace("t=1000", "t=1001"), body, now=1_000)
    assert not verify_push("s3cret", "garbage", body, now=1_000)
    assert not verify_push("s3cret", "t=x,v1=y", body, now=1_000)
    assert not verify_push("s3cret", "t=1000,v1=\x80", body, now=1_000)


def test_an_attempt_signature_names_one_worker_job_and_attempt() -> None:
    sig = attempt_signature("node", "w1", "j1", 1)
    assert valid_attempt_signature("node", "w1", "j1", 1, sig)
    assert not valid_attempt_signature("node", "w2", "j1", 1, sig)
    assert not valid_attempt_signature("node", "w1", "j2", 1, sig)
    assert not valid_attempt_signature("node", "w1", "j1", 2, sig)
    assert not valid_attempt_signature("other-node", "w1", "j1", 1, sig)
    assert not valid_attempt_signature("node", "w1", "j1", 1, "\x80é")  # not ASCII: no crash


def test_callback_secrets_differ_per_worker_and_node() -> None:
    secrets = {callback_secret(n, w) for n in ("a", "b") for w in ("w1", "w2")}
    assert len(secrets) == 4


def test_seed_004_types_make_sdxl_squares_wan_frames_and_videos() -> None:
    assert output_of("sdxl_image_high") == output_of("sdxl_image_fast")
    assert (output_of("sdxl_image_fast").width, output_of("sdxl_image_fast").height) == (1024, 1024)
    assert output_of("image7b_fast_enhanced").kind == "image"
    assert output_of("video7b_high_enhanced").kind == "video"
    assert output_of("video_fast").frames > 1
