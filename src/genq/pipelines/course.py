"""``course`` (seed 003): a course of lessons generated from an exam's questions.

Steps, as seed 003 names them: init, validation, fetch_settings, fetch_questions,
detect_topics, generate_lessons, save, complete. Each topic's lesson is announced with
topic_started / topic_progress / topic_completed, and cancellation is checked between
topics. Detected topics and each finished lesson are checkpointed, so a failed job that is
retried resumes at the step that failed without asking the model for them again. One
active course job per exam (its default dedupe key).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from genq.domain.courses import Course, Exam, Lesson
from genq.domain.errors import ExamNotFound, NonRetryableError, ProviderError
from genq.domain.events import EventType
from genq.domain.ids import is_uuid, uuid7
from genq.providers.base import ChatRequest
from genq.store.base import Store
from genq.worker.context import JobContext
from genq.worker.registry import Registry

STEPS = (
    "init",
    "validation",
    "fetch_settings",
    "fetch_questions",
    "detect_topics",
    "generate_lessons",
    "save",
    "complete",
)
MAX_TOPICS = 12
LESSONS_FROM, LESSONS_TO = 30, 90  # the progress band of generate_lessons

_TOPICS_PROMPT = (
    "Group the exam questions the user sends into 2 to {most} study topics. Answer with JSON "
    'only: {{"topics": [{{"name": "...", "questions": [question indexes]}}]}}; every '
    "question index belongs to exactly one topic."
)
_LESSON_PROMPT = (
    "Write one lesson that teaches the topic the user names, so that a student can answer "
    'its exam questions. Answer with JSON only: {"title": "...", "content": "markdown", '
    '"key_points": ["..."]}.'
)


class CourseParams(BaseModel):
    """Parameters of ``course``."""

    model_config = ConfigDict(extra="forbid")

    exam_id: str = Field(description="an exam of the job's owner (POST /v1/exams)")


async def visible_exam(store: Store, owner: str, exam_id: str) -> Exam:
    """The exam, if it exists and ``owner`` owns it; else 404 EXAM_NOT_FOUND."""
    exam = await store.get_exam(exam_id) if is_uuid(exam_id) else None
    if exam is None or exam.owner != owner:
        raise ExamNotFound()
    return exam


async def admit_course(store: Store, owner: str, params: CourseParams) -> str:
    """At submission: the exam must be the owner's; one active job per exam."""
    await visible_exam(store, owner, params.exam_id)
    return f"course:{params.exam_id}"


def _json_answer(text: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text.strip().removeprefix("```json").removesuffix("```"))
    except orjson.JSONDecodeError:
        raise ProviderError(f"the model's {what} are not JSON") from None
    if not isinstance(value, dict):
        raise ProviderError(f"the model's {what} are not a JSON object")
    return value


def parse_topics(answer: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Topics with valid, distinct question indexes; questions left out go to "Other"."""
    raw = answer.get("topics")
    if not isinstance(raw, list) or not raw:
        raise ProviderError("the model named no topics")
    seen: set[int] = set()
    topics: list[dict[str, Any]] = []
    for item in raw[:MAX_TOPICS]:
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            continue
        indexes = [
            i
            for i in item.get("questions", [])
            if isinstance(i, int) and 0 <= i < count and i not in seen
        ]
        seen.update(indexes)
        if indexes:
            topics.append({"name": str(item["name"]).strip()[:200], "questions": indexes})
    missing = [i for i in range(count) if i not in seen]
    if missing:
        topics.append({"name": "Other", "questions": missing})
    return topics


def parse_lesson(answer: dict[str, Any], topic: str) -> dict[str, Any]:
    content = answer.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ProviderError(f"the model's lesson on {topic!r} has no content")
    points = answer.get("key_points")
    return {
        "title": str(answer.get("title") or topic)[:300],
        "content": content,
        "key_points": [str(p) for p in points] if isinstance(points, list) else [],
    }


async def generate_course(ctx: JobContext, params: CourseParams) -> dict[str, Any]:
    """Generate a course of lessons, one per topic detected in an exam's questions."""
    started = time.monotonic()
    ctx.total_steps = len(STEPS)
    saved = await ctx.load_checkpoint() or {}
    chat = ctx.providers.chat

    async with ctx.step("init", "Initializing"):
        await ctx.progress(2, "Initializing")
        if saved:
            done = len(saved.get("lessons", {}))
            await ctx.log(f"Resuming: {done} lesson(s) already generated are kept")

    async with ctx.step("validation", "Validating data"):
        exam = await visible_exam(ctx.store, ctx.job.owner, params.exam_id)
        if not exam.questions:
            raise NonRetryableError("the exam has no questions", code="EXAM_EMPTY")
        await ctx.progress(5, "Validated")

    async with ctx.step("fetch_settings", "Fetching AI settings..."):
        await ctx.log(f"Using the {chat.name} provider")
        await ctx.progress(8, "Settings loaded")

    async with ctx.step("fetch_questions", "Loading questions..."):
        questions = exam.questions
        await ctx.log(f"{len(questions)} question(s) loaded")
        await ctx.progress(12, "Questions loaded")

    async with ctx.step("detect_topics", "Detecting topics with AI..."):
        topics: list[dict[str, Any]] | None = saved.get("topics")
        if topics is None:
            await ctx.progress(15, "Detecting topics with AI...", {"ai_call_started": True})
            listed = [{"index": i, "text": q.text} for i, q in enumerate(questions)]
            answer = await chat.complete(
                ChatRequest(
                    [
                        {"role": "system", "content": _TOPICS_PROMPT.format(most=MAX_TOPICS)},
                        {"role": "user", "content": orjson.dumps({"questions": listed}).decode()},
                    ],
                    purpose="topics",
                    json_output=True,
                )
            )
            topics = parse_topics(_json_answer(answer.text, "topics"), len(questions))
            saved = {"topics": topics, "lessons": {}}
            await ctx.save_checkpoint(saved)
        names = [t["name"] for t in topics]
        await ctx.log(f"Topics: {', '.join(names)}")
        await ctx.progress(LESSONS_FROM, "Topics detected")

    lessons: dict[str, dict[str, Any]] = saved.setdefault("lessons", {})
    total = len(topics)
    async with ctx.step("generate_lessons", "Generating lesson content..."):
        for index, topic in enumerate(topics):
            ctx.check_cancelled()
            name = topic["name"]
            where = {"topicName": name, "topicIndex": index, "totalTopics": total}
            if str(index) in lessons:
                continue
            t0 = time.monotonic()
            await ctx.emit(EventType.TOPIC_STARTED, dict(where))
            band = (LESSONS_TO - LESSONS_FROM) / total
            pct = round(LESSONS_FROM + band * (index + 0.5))
            await ctx.emit(
                EventType.TOPIC_PROGRESS,
                {**where, "progress": pct, "message": "Generating lesson content..."},
            )
            asked = [questions[i].to_dict() for i in topic["questions"]]
            answer = await chat.complete(
                ChatRequest(
                    [
                        {"role": "system", "content": _LESSON_PROMPT},
                        {
                            "role": "user",
                            "content": orjson.dumps({"topic": name, "questions": asked}).decode(),
                        },
                    ],
                    purpose="lesson",
                    json_output=True,
                )
            )
            lessons[str(index)] = parse_lesson(_json_answer(answer.text, "lesson"), name)
            await ctx.save_checkpoint(saved)
            await ctx.emit(
                EventType.TOPIC_COMPLETED,
                {**where, "lessonsGenerated": 1, "duration": round((time.monotonic() - t0) * 1000)},
            )
            await ctx.progress(LESSONS_FROM + band * (index + 1), f"Lesson on {name} written")

    async with ctx.step("save", "Saving to database"):
        course = Course(
            id=uuid7(),  # kept only if this job has no course yet (see save_course)
            owner=ctx.job.owner,
            exam_id=exam.id,
            job_id=ctx.job_id,
            title=f"Course: {exam.title}",
            topics=names,
            created_at=time.time(),
            lessons=[
                Lesson(
                    position=i,
                    topic=t["name"],
                    title=lessons[str(i)]["title"],
                    content=lessons[str(i)]["content"],
                    key_points=lessons[str(i)]["key_points"],
                    questions=t["questions"],
                )
                for i, t in enumerate(topics)
            ],
        )
        course_id = await ctx.store.save_course(course)
        await ctx.progress(95, "Saved")

    async with ctx.step("complete", "Finalizing"):
        await ctx.log("Course generated successfully!")
    return {
        "courseId": course_id,
        "examId": exam.id,
        "topicsGenerated": total,
        "lessonsGenerated": len(lessons),
        "totalDuration": round((time.monotonic() - started) * 1000),
        "message": "Course generated successfully!",
    }


def register_course(registry: Registry) -> None:
    """Register ``course``."""
    registry.job("course", max_attempts=3, timeout_s=1800, admit=admit_course)(generate_course)
