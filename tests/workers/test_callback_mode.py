"""Callback mode over real HTTP: genq pushes jobs to a fake worker on loopback, signed, and
the worker reports back through the signed callback URL each push carries."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from genq.domain.workers import SIGNATURE_HEADER, verify_push
from tests.api.test_sse import collect
from tests.auth.conftest import AUTH_SETTINGS, bearer, token
from tests.conftest import RunningServer, ServerFactory, serve_app
from tests.workers.test_protocol import register, worker_key

ALICE = bearer(token("alice"))
ADMIN = bearer(token("root", role="admin"))


class FakeCallbackWorker:
    """A worker that cannot long-poll: it takes pushed jobs and answers as told."""

    def __init__(self) -> None:
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: list[int] = []  # status codes to answer, in order; then 202
        self.secret = ""
        self.forged = 0

    async def push(self, request: Request) -> Response:
        body = await request.body()
        if not verify_push(
            self.secret, request.headers.get(SIGNATURE_HEADER, ""), body, time.time()
        ):
            self.forged += 1
            return Response(status_code=401)
        status = self.answers.pop(0) if self.answers else 202
        await self.pushes.put({**orjson.loads(body), "answered": status})
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/jobs", self.push, methods=["POST"])])


@pytest.fixture
async def fake_worker() -> AsyncIterator[tuple[FakeCallbackWorker, str]]:
    fake = FakeCallbackWorker()
    async with serve_app(fake.app()) as url:
        yield fake, url


async def setup(
    start_server: ServerFactory, fake: FakeCallbackWorker, url: str, **settings: Any
) -> tuple[RunningServer, str]:
    server = await start_server(**AUTH_SETTINGS, **settings)
    key = await worker_key(server)
    async with server.client() as c:
        answer = await c.post(
            "/v1/workers",
            json={
                "name": "lambda",
                "queues": ["sdxl_queue"],
                "callback_url": f"{url}/jobs",
                "max_concurrency": 2,
            },
            headers=key,
        )
    assert answer.status_code == 201, answer.text
    fake.secret = answer.json()["callbackSecret"]
    return server, answer.json()["id"]


async def submit(server: RunningServer, prompt: str = "a red kite") -> str:
    async with server.client() as c:
        job = await c.post(
            "/v1/jobs",
            json={"type": "sdxl_image_fast", "params": {"prompt": prompt}},
            headers=ALICE,
        )
    assert job.status_code == 201, job.text
    return str(job.json()["id"])


async def test_a_pushed_job_is_reported_on_through_its_signed_callback_url(
    start_server: ServerFactory, fake_worker: tuple[FakeCallbackWorker, str]
) -> None:
    fake, fake_url = fake_worker
    server, wid = await setup(start_server, fake, fake_url)
    job_id = await submit(server)
    push = await asyncio.wait_for(fake.pushes.get(), 10)
    assert push["job"]["id"] == job_id
    assert push["worker"] == wid
    assert push["job"]["params"] == {"prompt": "a red kite"}
    assert push["attempt"] == 1
    callback = push["callbackUrl"]  # relative: genq was given no GENQ_PUBLIC_URL
    files = callback.replace("/callback?", "/files/out.png?")
    async with server.client(headers=ALICE) as c:
        watch = asyncio.create_task(collect(c, f"/v1/jobs/{job_id}/events"))
        working = await c.post(
            callback, json={"status": "processing", "progress": 40, "step": "denoise"}
        )
        assert working.json() == {"cancel": False, "leaseSeconds": 5.0}
        png = io.BytesIO()
        Image.new("RGB", (64, 32), "red").save(png, "PNG")
        stored = await c.put(files, content=png.getvalue(), headers={"Content-Type": "image/png"})
        assert stored.status_code == 201, stored.text
        done = await c.post(
            callback,
            json={
                "status": "completed",
                "result": {"seed": 1},
                "output_urls": [stored.json()["url"]],
            },
        )
        assert done.status_code == 200, done.text
        messages = await watch
        image = await c.get(stored.json()["url"])
        registry = (await c.get("/v1/workers", headers=ADMIN)).json()["workers"]
    assert done.json()["status"] == "completed"
    assert done.json()["result"] == {"output": {"seed": 1}, "outputUrls": [stored.json()["url"]]}
    progress = [orjson.loads(m.data)["data"] for m in messages if m.event == "step_progress"]
    assert progress == [{"step": "denoise", "progress": 40}]
    assert Image.open(io.BytesIO(image.content)).size == (64, 32)
    assert registry[0]["status"] == "healthy"
    assert fake.forged == 0


async def test_a_refused_push_gives_the_job_back_and_it_is_pushed_again(
    start_server: ServerFactory, fake_worker: tuple[FakeCallbackWorker, str]
) -> None:
    fake, fake_url = fake_worker
    fake.answers = [503]
    server, _ = await setup(start_server, fake, fake_url)
    job_id = await submit(server)
    first = await asyncio.wait_for(fake.pushes.get(), 10)
    second = await asyncio.wait_for(fake.pushes.get(), 10)  # after a pause of about a second
    assert (first["answered"], second["answered"]) == (503, 202)
    assert (first["attempt"], second["attempt"]) == (1, 2)
    async with server.client() as c:
        job = (await c.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
        # The first attempt's URL is dead: the job has moved on to the second.
        stale = await c.post(first["callbackUrl"], json={"status": "completed"})
        ok = await c.post(second["callbackUrl"], json={"status": "completed", "result": 1})
    assert job["status"] == "running"
    assert job["max_attempts"] == 4
    assert stale.status_code == 409
    assert stale.json()["code"] == "LEASE_LOST"
    assert ok.json()["status"] == "completed"


async def test_callback_urls_are_worth_nothing_for_another_job_or_when_altered(
    start_server: ServerFactory, fake_worker: tuple[FakeCallbackWorker, str]
) -> None:
    fake, fake_url = fake_worker
    server, wid = await setup(start_server, fake, fake_url)
    mine = await submit(server, "first job here")
    push = await asyncio.wait_for(fake.pushes.get(), 10)
    other = await submit(server, "second job here")
    assert (await asyncio.wait_for(fake.pushes.get(), 10))["job"]["id"] == other
    url = push["callbackUrl"]
    sig = url.split("sig=")[1]
    async with server.client() as c:
        refused = [
            await c.post(url.replace(mine, other), json={"status": "completed"}),
            await c.post(url.replace(sig, "0" * len(sig)), json={"status": "completed"}),
            await c.post(url.replace("attempt=1", "attempt=2"), json={"status": "completed"}),
            await c.post(url.split("&sig=")[0], json={"status": "completed"}),
        ]
        bad_body = await c.post(url, json={"status": "finished"})
        jobs = [(await c.get(f"/v1/jobs/{j}", headers=ALICE)).json() for j in (mine, other)]
    assert [r.status_code for r in refused] == [401, 401, 401, 400]
    assert refused[0].json()["code"] == "UNAUTHORIZED"
    assert bad_body.status_code == 400
    assert [j["status"] for j in jobs] == ["running", "running"]  # nothing changed
    assert wid in url


async def test_a_cancel_reaches_a_callback_worker_in_the_answer_to_its_report(
    start_server: ServerFactory, fake_worker: tuple[FakeCallbackWorker, str]
) -> None:
    fake, fake_url = fake_worker
    server, _ = await setup(start_server, fake, fake_url)
    job_id = await submit(server)
    push = await asyncio.wait_for(fake.pushes.get(), 10)
    async with server.client() as c:
        await c.post(f"/v1/jobs/{job_id}/cancel", json={"reason": "stop"}, headers=ALICE)
        told = await c.post(push["callbackUrl"], json={"status": "processing", "progress": 10})
        ended = await c.post(push["callbackUrl"], json={"status": "cancelled"})
    assert told.json()["cancel"] is True
    assert ended.json()["status"] == "cancelled"


async def test_a_worker_that_is_gone_gets_no_pushes_for_a_while(
    start_server: ServerFactory,
) -> None:
    # Nothing listens at the callback URL: each push fails and the pauses grow.
    server = await start_server(**AUTH_SETTINGS)
    key = await worker_key(server)
    async with server.client() as c:
        await register(c, key, callback_url="http://127.0.0.1:9/jobs")
    job_id = await submit(server)
    await asyncio.sleep(1.5)
    async with server.client() as c:
        job = (await c.get(f"/v1/jobs/{job_id}", headers=ALICE)).json()
    events = await server.node.store.read_events(job_id, 0)
    assert job["status"] == "queued"
    released = [e for e in events if e.type == "job_retrying"]
    assert 1 <= len(released) <= 2  # pushed at once, then after a 1s pause at most
    assert {e.data["reason"] for e in released} == {"released"}
    assert job["attempts"] == len(released)
    assert job["max_attempts"] == 3 + len(released)
