"""Exams, courses and job checkpoints, read and written inside the caller's transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from genq.domain.courses import Course, Exam, Lesson, Question
from genq.store.schema import checkpoints, courses, exam_questions, exams, lessons


async def insert_exam(conn: AsyncConnection, exam: Exam) -> None:
    await conn.execute(
        exams.insert(),
        {"id": exam.id, "owner": exam.owner, "title": exam.title, "created_at": exam.created_at},
    )
    if exam.questions:
        await conn.execute(
            exam_questions.insert(),
            [
                {"exam_id": exam.id, "position": i, **q.to_dict()}
                for i, q in enumerate(exam.questions)
            ],
        )


async def exam(conn: AsyncConnection, exam_id: str) -> Exam | None:
    row = (await conn.execute(select(exams).where(exams.c.id == exam_id))).first()
    if row is None:
        return None
    stmt = (
        select(exam_questions)
        .where(exam_questions.c.exam_id == exam_id)
        .order_by(exam_questions.c.position)
    )
    questions = [Question(r.text, r.answer, r.explanation) for r in await conn.execute(stmt)]
    return Exam(row.id, row.owner, row.title, row.created_at, questions)


async def exam_page(
    conn: AsyncConnection, owner: str | None, limit: int, offset: int
) -> tuple[list[tuple[Exam, int]], int]:
    """Exams (without their questions) with their question counts, newest first; the total."""
    counts = (
        select(exam_questions.c.exam_id, func.count().label("n"))
        .group_by(exam_questions.c.exam_id)
        .subquery()
    )
    stmt = select(exams, func.coalesce(counts.c.n, 0).label("n")).outerjoin(
        counts, counts.c.exam_id == exams.c.id
    )
    total = select(func.count()).select_from(exams)
    if owner is not None:
        stmt = stmt.where(exams.c.owner == owner)
        total = total.where(exams.c.owner == owner)
    stmt = stmt.order_by(exams.c.id.desc()).limit(limit).offset(offset)
    rows = [
        (Exam(r.id, r.owner, r.title, r.created_at), int(r.n)) for r in await conn.execute(stmt)
    ]
    return rows, int((await conn.execute(total)).scalar() or 0)


async def save_course(conn: AsyncConnection, course: Course) -> str:
    """Insert the course and its lessons; if this job saved one already, keep that one."""
    existing = (
        await conn.execute(select(courses.c.id).where(courses.c.job_id == course.job_id))
    ).scalar()
    if existing is not None:
        return str(existing)
    await conn.execute(
        courses.insert(),
        {
            "id": course.id,
            "owner": course.owner,
            "exam_id": course.exam_id,
            "job_id": course.job_id,
            "title": course.title,
            "topics": orjson.dumps(course.topics).decode(),
            "created_at": course.created_at,
        },
    )
    if course.lessons:
        await conn.execute(
            lessons.insert(),
            [
                {
                    "course_id": course.id,
                    "position": lesson.position,
                    "topic": lesson.topic,
                    "title": lesson.title,
                    "content": lesson.content,
                    "key_points": orjson.dumps(lesson.key_points).decode(),
                    "questions": orjson.dumps(lesson.questions).decode(),
                }
                for lesson in course.lessons
            ],
        )
    return course.id


async def course(conn: AsyncConnection, course_id: str) -> Course | None:
    row = (await conn.execute(select(courses).where(courses.c.id == course_id))).first()
    if row is None:
        return None
    stmt = select(lessons).where(lessons.c.course_id == course_id).order_by(lessons.c.position)
    found = [
        Lesson(
            r.position,
            r.topic,
            r.title,
            r.content,
            orjson.loads(r.key_points),
            orjson.loads(r.questions),
        )
        for r in await conn.execute(stmt)
    ]
    return Course(
        row.id,
        row.owner,
        row.exam_id,
        row.job_id,
        row.title,
        orjson.loads(row.topics),
        row.created_at,
        found,
    )


async def load_checkpoint(conn: AsyncConnection, job_id: str) -> dict[str, Any] | None:
    data = (
        await conn.execute(select(checkpoints.c.data).where(checkpoints.c.job_id == job_id))
    ).scalar()
    return None if data is None else dict(orjson.loads(data))


async def save_checkpoint(
    conn: AsyncConnection, job_id: str, data: dict[str, Any], now: float
) -> None:
    await conn.execute(delete(checkpoints).where(checkpoints.c.job_id == job_id))
    await conn.execute(
        checkpoints.insert(),
        {"job_id": job_id, "data": orjson.dumps(data).decode(), "updated_at": now},
    )


async def delete_checkpoints(conn: AsyncConnection, job_ids: list[str]) -> None:
    await conn.execute(delete(checkpoints).where(checkpoints.c.job_id.in_(job_ids)))
