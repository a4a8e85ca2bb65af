"""The package version, in `core` so any layer can record it without importing `jetbench` itself
(whose lazy exports reach the top layers)."""

__version__ = "0.1.0"
