"""The ``course`` pipeline (seed 003) end to end: exams, steps and topic events, the stored
course, ownership, one active job per exam, and resuming a failed job."""

from __future__ import annotations

from typing import Any

import orjson

from tests.api.test_sse import collect
from tests.auth.conftest import AUTH_SETTINGS, bearer, token
from tests.conftest import ServerFactory
from tests.generation.conftest import FAST
from tests.generation.fakes import FakeOpenAI

QUESTIONS = [
    {"text": "What does a firewall filter?", "answer": "packets"},
    {"text": "Which firewall rule blocks port 22?"},
    {"text": "How does encryption protect data?"},
    {"text": "What is symmetric encryption?"},
    {"text": "What is a subnet mask?"},
    {"text": "How many hosts fit in a /24 subnet?"},
]
STEPS = [
    "init",
    "validation",
    "fetch_settings",
    "fetch_questions",
    "detect_topics",
    "generate_lessons",
    "save",
    "complete",
]


def events(messages: list[Any], name: str) -> list[dict[str, Any]]:
    return [orjson.loads(m.data)["data"] for m in messages if m.event == name]


async def test_course_from_an_exam_with_topic_events(start_server: ServerFactory) -> None:
    server = await start_server(**FAST)
    async with server.client() as client:
        exam = await client.post("/v1/exams", json={"title": "Networks", "questions": QUESTIONS})
        assert exam.status_code == 201
        exam_id = exam.json()["id"]
        assert (await client.get(f"/v1/exams/{exam_id}")).json()["questions"][0]["answer"] == (
            "packets"
        )
        created = await client.post(
            "/v1/jobs", json={"type": "course", "params": {"exam_id": exam_id}}
        )
        job_id = created.json()["id"]
        messages = await collect(client, f"/v1/jobs/{job_id}/events")
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        assert job["status"] == "completed", job["error"]
        course = (await client.get(f"/v1/courses/{job['result']['courseId']}")).json()
    assert [e["step"] for e in events(messages, "step_started")] == STEPS
    assert {e["totalSteps"] for e in events(messages, "step_started")} == {8}
    started = events(messages, "topic_started")
    completed = events(messages, "topic_completed")
    assert [t["topicName"] for t in started] == course["topics"]
    assert [t["topicIndex"] for t in completed] == list(range(len(course["topics"])))
    assert all(t["totalTopics"] == len(course["topics"]) for t in started)
    assert job["result"]["topicsGenerated"] == len(course["lessons"]) >= 2
    covered = sorted(i for lesson in course["lessons"] for i in lesson["questions"])
    assert covered == list(range(len(QUESTIONS)))
    assert all(lesson["content"] for lesson in course["lessons"])


async def test_one_active_course_job_per_exam(start_server: ServerFactory) -> None:
    server = await start_server(run_workers=False)
    async with server.client() as client:
        exam = await client.post("/v1/exams", json={"title": "Net", "questions": QUESTIONS})
        body = {"type": "course", "params": {"exam_id": exam.json()["id"]}}
        first = await client.post("/v1/jobs", json=body)
        again = await client.post("/v1/jobs", json=body)
        missing = await client.post(
            "/v1/jobs", json={"type": "course", "params": {"exam_id": "not-an-exam"}}
        )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert missing.status_code == 404
    assert missing.json()["code"] == "EXAM_NOT_FOUND"


async def test_exams_and_courses_are_their_owners(start_server: ServerFactory) -> None:
    server = await start_server(**{**FAST, **AUTH_SETTINGS})
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    async with server.client() as client:
        exam = await client.post(
            "/v1/exams", json={"title": "Mine", "questions": QUESTIONS}, headers=alice
        )
        exam_id = exam.json()["id"]
        body = {"type": "course", "params": {"exam_id": exam_id}}
        theirs = await client.post("/v1/jobs", json=body, headers=bob)
        assert theirs.status_code == 404
        assert theirs.json()["code"] == "EXAM_NOT_FOUND"
        assert (await client.get(f"/v1/exams/{exam_id}", headers=bob)).status_code == 404
        assert (await client.get("/v1/exams", headers=bob)).json()["total"] == 0
        assert (await client.get("/v1/exams", headers=alice)).json()["total"] == 1
        created = await client.post("/v1/jobs", json=body, headers={**alice, "Prefer": "wait=20"})
        course_id = created.json()["result"]["courseId"]
        assert (await client.get(f"/v1/courses/{course_id}", headers=alice)).status_code == 200
        other = await client.get(f"/v1/courses/{course_id}", headers=bob)
        assert other.status_code == 404
        assert other.json()["code"] == "COURSE_NOT_FOUND"
        bad = await client.post(
            "/v1/exams", json={"title": "Empty", "questions": []}, headers=alice
        )
        assert bad.status_code == 400
        assert (await client.get("/v1/exams", headers=alice)).json()["total"] == 1


async def test_a_failed_course_resumes_without_redoing_finished_topics(
    start_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    lessons_asked: list[str] = []

    def reply(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        asked = orjson.loads(body["messages"][-1]["content"])
        if "study topics" in system:
            return orjson.dumps(
                {
                    "topics": [
                        {"name": "Firewalls", "questions": [0, 1]},
                        {"name": "Encryption", "questions": [2, 3]},
                        {"name": "Subnets", "questions": [4, 5]},
                    ]
                }
            ).decode()
        lessons_asked.append(asked["topic"])
        return orjson.dumps(
            {"title": asked["topic"], "content": "# Lesson", "key_points": ["a"]}
        ).decode()

    fake_openai.chat_reply = reply
    # The third chat call (the second lesson) fails for good on the first attempt.
    fake_openai.chat.steps = ["ok", "ok", "500", "500", "500"]
    server = await start_server(
        provider="openai", openai_base_url=f"{fake_openai.base_url}/v1", **FAST
    )
    async with server.client() as client:
        exam = await client.post("/v1/exams", json={"title": "Net", "questions": QUESTIONS})
        body = {"type": "course", "params": {"exam_id": exam.json()["id"]}, "max_attempts": 1}
        created = await client.post("/v1/jobs", json=body, headers={"Prefer": "wait=20"})
        failed = created.json()
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "PROVIDER_ERROR"
        assert failed["step"] == "generate_lessons"
        await client.post(f"/v1/jobs/{failed['id']}/retry")
        # Read from the retry's own first event: the stream then ends at its terminal one.
        await collect(client, f"/v1/jobs/{failed['id']}/events?after={failed['last_event_id']}")
        job = (await client.get(f"/v1/jobs/{failed['id']}")).json()
        assert job["status"] == "completed", job["error"]
        course = (await client.get(f"/v1/courses/{job['result']['courseId']}")).json()
    # Topics were detected once; the first lesson was not written again.
    assert len(fake_openai.calls_to("/v1/chat/completions")) == 1 + 1 + 3 + 2
    assert lessons_asked == ["Firewalls", "Encryption", "Subnets"]
    assert [lesson["topic"] for lesson in course["lessons"]] == [
        "Firewalls",
        "Encryption",
        "Subnets",
    ]
    stored = await server.node.store.read_events(job["id"], 0)
    logs = [e.data.get("message", "") for e in stored if e.type == "log"]
    assert any(line.startswith("Resuming: 1 lesson(s)") for line in logs)
