"""Job types shipped with genq, one module per pipeline."""

from genq.pipelines.builtin import register_builtin
from genq.worker.registry import Registry


def default_registry() -> Registry:
    """A registry with every built-in job type."""
    registry = Registry()
    register_builtin(registry)
    return registry


__all__ = ["default_registry", "register_builtin"]
