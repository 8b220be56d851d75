"""Job types: registration, params models, and clear errors."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from genq.domain.errors import InvalidRequest
from genq.worker.context import JobContext
from genq.worker.registry import Registry


class Params(BaseModel):
    n: int = Field(ge=1)


def test_decorator_infers_the_params_model_from_the_annotation() -> None:
    registry = Registry()

    @registry.job("count", queue="q", max_attempts=5, timeout_s=3)
    async def count(ctx: JobContext, params: Params) -> int:
        """Counts."""
        return params.n

    t = registry.require("count")
    assert (t.queue, t.max_attempts, t.timeout_s, t.params_model) == ("q", 5, 3, Params)
    assert t.description == "Counts."
    assert t.parse({"n": 2}) == Params(n=2)


def test_bad_params_name_each_field() -> None:
    registry = Registry()
    registry.job("count", params=Params)(_handler)
    with pytest.raises(InvalidRequest) as info:
        registry.require("count").parse({"n": 0})
    assert info.value.details["fields"][0]["field"] == "params.n"


def test_unknown_type_lists_the_known_ones() -> None:
    registry = Registry()
    registry.job("b")(_handler)
    registry.job("a")(_handler)
    with pytest.raises(InvalidRequest) as info:
        registry.require("zzz")
    assert info.value.details["known_types"] == ["a", "b"]


def test_a_name_registers_once() -> None:
    registry = Registry()
    registry.job("a")(_handler)
    with pytest.raises(ValueError, match="already registered"):
        registry.job("a")(_handler)


async def _handler(ctx: JobContext, params: dict[str, object]) -> None:
    return None
