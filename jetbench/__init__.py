"""jetbench: a benchmark suite for jet foundation models."""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy exports: `jetbench.evaluate(...)` without importing torch at `import jetbench`."""
    if name == "evaluate":
        from jetbench.evaluate_cell import evaluate

        return evaluate
    raise AttributeError(f"module 'jetbench' has no attribute '{name}'")
