"""Job types shipped with genq, one module per pipeline."""

from genq.pipelines.builtin import register_builtin
from genq.pipelines.concept import register_concept
from genq.pipelines.course import register_course
from genq.pipelines.image import register_image
from genq.pipelines.prompts import register_prompts
from genq.worker.registry import Registry


def default_registry() -> Registry:
    """A registry with every built-in job type."""
    registry = Registry()
    register_builtin(registry)
    register_image(registry)
    register_concept(registry)
    register_prompts(registry)
    register_course(registry)
    return registry


__all__ = ["default_registry", "register_builtin"]
