"""``/v1/exams`` and ``/v1/courses`` (seed 003): the exams courses are made from, and the
courses the ``course`` job type makes. Users see their own; admins and services all."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from genq.api.deps import node, principal
from genq.api.routes.jobs import json_response
from genq.domain.auth import Principal
from genq.domain.courses import Course, Exam, Question
from genq.domain.errors import CourseNotFound, ExamNotFound
from genq.domain.ids import is_uuid, uuid7
from genq.node import Node

router = APIRouter(prefix="/v1", tags=["courses"])

NodeDep = Annotated[Node, Depends(node)]
CallerDep = Annotated[Principal, Depends(principal)]
MAX_QUESTIONS = 500


class QuestionIn(BaseModel):
    """One question of an exam."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    answer: str | None = Field(None, max_length=4000)
    explanation: str | None = Field(None, max_length=8000)


class ExamCreate(BaseModel):
    """``POST /v1/exams``."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    questions: list[QuestionIn] = Field(min_length=1, max_length=MAX_QUESTIONS)


def _exam(exam: Exam, count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": exam.id,
        "owner": exam.owner,
        "title": exam.title,
        "questionCount": len(exam.questions) if count is None else count,
        "createdAt": exam.created_at,
    }
    if count is None:
        out["questions"] = [{"index": i, **q.to_dict()} for i, q in enumerate(exam.questions)]
    return out


def _course(course: Course) -> dict[str, Any]:
    return {
        "id": course.id,
        "owner": course.owner,
        "examId": course.exam_id,
        "jobId": course.job_id,
        "title": course.title,
        "topics": course.topics,
        "createdAt": course.created_at,
        "lessons": [lesson.to_dict() for lesson in course.lessons],
    }


@router.post("/exams", status_code=201, summary="Create an exam with its questions")
async def create_exam(body: ExamCreate, genq: NodeDep, caller: CallerDep) -> Response:
    """An exam the caller owns; `course` jobs are made from its questions."""
    exam = Exam(
        id=uuid7(),
        owner=caller.user_id,
        title=body.title,
        created_at=time.time(),
        questions=[Question(q.text, q.answer, q.explanation) for q in body.questions],
    )
    await genq.store.create_exam(exam)
    return json_response(_exam(exam), 201)


@router.get("/exams", summary="The caller's exams")
async def list_exams(
    genq: NodeDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Newest first, without their questions."""
    rows, total = await genq.store.list_exams(caller.scope, limit, offset)
    return json_response({"exams": [_exam(e, n) for e, n in rows], "total": total})


@router.get("/exams/{exam_id}", summary="An exam with its questions")
async def get_exam(exam_id: str, genq: NodeDep, caller: CallerDep) -> Response:
    """404 EXAM_NOT_FOUND for an unknown exam or another user's."""
    exam = await genq.store.get_exam(exam_id) if is_uuid(exam_id) else None
    if exam is None or (caller.scope is not None and exam.owner != caller.scope):
        raise ExamNotFound()
    return json_response(_exam(exam))


@router.get("/courses/{course_id}", summary="A generated course with its lessons")
async def get_course(course_id: str, genq: NodeDep, caller: CallerDep) -> Response:
    """404 COURSE_NOT_FOUND for an unknown course or another user's."""
    course = await genq.store.get_course(course_id) if is_uuid(course_id) else None
    if course is None or (caller.scope is not None and course.owner != caller.scope):
        raise CourseNotFound()
    return json_response(_course(course))
