"""Messages and progress bars: one logger, the old `jetbench: ...` look, bars only on a terminal."""

from __future__ import annotations

import io
import logging

import pytest

from jetbench.core import log


@pytest.fixture(autouse=True)
def _fresh_level(monkeypatch):
    """Each test starts at the default level with progress allowed (configure() exports both)."""
    monkeypatch.delenv(log.LEVEL_ENV, raising=False)
    monkeypatch.delenv(log.NO_PROGRESS_ENV, raising=False)
    log.configure()
    yield
    log.configure()


def test_messages_keep_the_plain_look(capsys):
    log.get_logger().info("waiting for another process")
    log.get_logger("sweep").info("[1/4] cell")
    log.get_logger().warning("random draws will differ")
    log.get_logger().debug("not shown at the default level")
    err = capsys.readouterr().err.splitlines()
    assert err == ["jetbench: waiting for another process", "jetbench sweep: [1/4] cell",
                   "jetbench: warning: random draws will differ"]


def test_quiet_and_verbose_levels(capsys):
    log.configure(quiet=True)
    log.get_logger().info("hidden")
    log.get_logger().warning("shown")
    assert capsys.readouterr().err == "jetbench: warning: shown\n"
    log.configure(verbose=True)
    log.get_logger("sweep").debug("detail")
    assert capsys.readouterr().err == "jetbench sweep: debug: detail\n"


def test_level_travels_to_workers_through_the_environment(monkeypatch):
    log.configure(quiet=True)
    import os

    assert os.environ[log.LEVEL_ENV] == "warning"
    # a spawned worker starts with a fresh logger that reads the environment
    logger = logging.getLogger(log.ROOT)
    for h in list(logger.handlers):
        logger.removeHandler(h)
    assert not log.get_logger().isEnabledFor(logging.INFO)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not log.show_progress()  # a pipe or a file: no bar
    monkeypatch.setattr("sys.stderr", _Tty())
    assert log.show_progress() and not log.show_progress(False)
    log.set_progress(False)  # --no-progress, inherited by workers through the environment
    assert not log.show_progress()
    log.set_progress(True)
    log.configure(quiet=True)  # --quiet draws no bars either
    assert not log.show_progress()


def test_disabled_bar_writes_nothing(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with log.progress_bar(total=100, desc="embed") as bar:
        for _ in range(100):
            bar.update(1)
        bar.set_postfix(loss=1.0)
    assert stream.getvalue() == ""
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    with log.progress_bar(total=3, desc="embed", mininterval=0) as bar:
        bar.update(3)
    assert "\r" in tty.getvalue()  # on a terminal it is a real bar


def test_cli_quiet_verbose(capsys):
    from jetbench.cli import main

    assert main(["--quiet", "--verbose", "list", "tasks"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main(["--quiet", "list", "tasks"]) == 0
    assert not log.get_logger().isEnabledFor(logging.INFO)
