"""Exams, their questions, and the courses made from them (seed 003): plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Question:
    """One exam question."""

    text: str
    answer: str | None = None
    explanation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "answer": self.answer, "explanation": self.explanation}


@dataclass(frozen=True, slots=True)
class Exam:
    """An exam a user owns, with its questions in order."""

    id: str
    owner: str
    title: str
    created_at: float
    questions: list[Question] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Lesson:
    """One lesson of a course: a topic's content and the questions it answers."""

    position: int
    topic: str
    title: str
    content: str
    key_points: list[str]
    questions: list[int]  # positions of the exam's questions

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "topic": self.topic,
            "title": self.title,
            "content": self.content,
            "keyPoints": self.key_points,
            "questions": self.questions,
        }


@dataclass(frozen=True, slots=True)
class Course:
    """A generated course: one lesson per detected topic."""

    id: str
    owner: str
    exam_id: str
    job_id: str
    title: str
    topics: list[str]
    created_at: float
    lessons: list[Lesson] = field(default_factory=list)
