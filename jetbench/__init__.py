"""jetbench: a benchmark suite for jet foundation models."""

from __future__ import annotations

from jetbench.core.version import __version__

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str):
    """Lazy exports: `jetbench.evaluate(...)` without importing torch at `import jetbench`."""
    if name == "evaluate":
        from jetbench.evaluation import evaluate  # lazy: evaluation imports torch

        return evaluate
    raise AttributeError(f"module 'jetbench' has no attribute '{name}'")
