"""Property-based API tests: schemathesis against ``/openapi.json`` of a running server.

Requests generated from the schema, valid and invalid, go to a real ``genq serve`` process
on a loopback port. No answer may be a 5xx, and every 4xx must be in the standard error
envelope (DESIGN §6). The global event stream (``GET /v1/events``) never ends by design,
so it is left out; its bad inputs are covered by the SSE tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import free_port

ENVELOPE = {"error", "message", "code", "timestamp"}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``genq serve`` process on a fresh SQLite file, stopped after the module."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    env = {**os.environ, "GENQ_DB_URL": f"sqlite:///{tmp}/genq.db", "GENQ_LOG_LEVEL": "warning"}
    log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "genq.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((Path(tmp) / "serve.log").read_text())
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _check(case: Any, server_url: str) -> None:
    response = case.call(base_url=server_url, timeout=10)
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    if 400 <= response.status_code < 500:
        body = response.json()
        assert ENVELOPE <= set(body) <= ENVELOPE | {"details"}, (
            case.as_curl_command(),
            response.text,
        )
        assert body["code"].isupper()
        assert isinstance(body["message"], str)
        assert body["message"]


def _operations(server_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path != "/v1/events"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_every_client_error_in_the_envelope(
    server_url: str, mode: GenerationMode
) -> None:
    operations = _operations(server_url)
    assert len(operations) >= 12
    tested: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            _check(case, server_url)

        try:
            run()
        except Unsatisfiable:
            # Nothing to make invalid: the operation takes no parameters and no body.
            assert mode == GenerationMode.NEGATIVE, operation.label
            continue
        tested.append(operation.label)
    if mode == GenerationMode.POSITIVE:
        assert len(tested) == len(operations)
    else:
        bodies = {"POST /v1/jobs", "POST /v1/jobs/batch", "GET /v1/jobs", "POST /v1/queues/clean"}
        assert bodies <= set(tested), tested
