"""Progress where there is no terminal (nohup, Slurm, ``| tee``): plain lines with a rate and an
ETA; on a terminal, an ETA as soon as there is a rate. The clock is a fake one: no sleeping."""

import io
import re

import pytest
from rich.console import Console

from redstar.errors import RedStarError
from redstar.progress import ProgressBoard, RateEtaColumn, clock_text, eta_seconds, progress_every, rate_text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pipe_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def lines_of(out: io.StringIO) -> list[str]:
    # drop the "[HH:MM:SS] " stamp
    return [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in out.getvalue().splitlines() if line.strip()]


def test_no_terminal_prints_start_progress_and_done_lines_with_an_eta():
    console, out = pipe_console()
    clock = FakeClock()
    board = ProgressBoard(console, every=30, clock=clock)
    assert board.plain and not board.live
    with board.task("sampling teacher", 320) as update:
        assert lines_of(out) == ["sampling teacher: started, 320 to do"]
        clock.now += 10
        update(40, None)  # not yet 30 s since the last line: nothing new
        assert len(lines_of(out)) == 1
        clock.now += 30  # 40 s in, 80 done: 2/s, 240 left -> 2:00
        update(80, None)
        assert lines_of(out)[-1] == "sampling teacher: 80/320 (25%), 2.0/s, elapsed 0:00:40, eta 0:02:00"
        clock.now += 5
        update(90, None)
        assert len(lines_of(out)) == 2  # the interval counts from the last line
    assert lines_of(out)[-1] == "sampling teacher: done 320/320 in 0:00:45 (7.1/s)"


def test_a_task_that_stops_reporting_still_gets_a_line_and_the_total_can_arrive_late():
    console, out = pipe_console()
    clock = FakeClock()
    board = ProgressBoard(console, every=30, clock=clock)
    with board.task("training sft (sft)", None) as update:
        clock.now += 31
        board.tick()  # what the background ticker does between updates
        assert lines_of(out)[-1] == "training sft (sft): 0 done, -/s, elapsed 0:00:31, eta -:--:--"
        update(10, 40)
        clock.now += 31  # 62 s for 10 steps of 40: 186 s left
        board.tick()
        assert lines_of(out)[-1] == "training sft (sft): 10/40 (25%), 9.7/min, elapsed 0:01:02, eta 0:03:06"


def test_an_interrupted_task_says_where_it_stopped():
    console, out = pipe_console()
    clock = FakeClock()
    board = ProgressBoard(console, every=30, clock=clock)
    with pytest.raises(KeyboardInterrupt), board.task("verifying", 100) as update:
        clock.now += 20
        update(50, None)
        raise KeyboardInterrupt
    assert lines_of(out)[-1] == "verifying: stopped at 50/100 (50%), 2.5/s, elapsed 0:00:20, eta 0:00:20"


def test_entered_board_runs_and_stops_its_ticker_and_prints_stage_lines():
    console, out = pipe_console()
    with ProgressBoard(console, every=30) as board:
        assert board._ticker is not None and board._ticker.is_alive()
        ticker = board._ticker
        board.stage("select")
        board.log("a message")
    assert not ticker.is_alive()
    assert lines_of(out) == ["stage select", "a message"]


def test_disabled_board_prints_no_progress():
    console, out = pipe_console()
    with ProgressBoard(console, enabled=False, every=1) as board, board.task("sampling", 10) as update:
        board.stage("sample")
        update(5, None)
    assert out.getvalue() == ""


def test_interval_comes_from_the_environment_and_bad_values_are_clear(monkeypatch):
    monkeypatch.delenv("REDSTAR_PROGRESS_EVERY", raising=False)
    assert progress_every() == 30
    monkeypatch.setenv("REDSTAR_PROGRESS_EVERY", "5")
    assert progress_every() == 5
    assert ProgressBoard(pipe_console()[0]).every == 5
    assert progress_every(2) == 2
    monkeypatch.setenv("REDSTAR_PROGRESS_EVERY", "soon")
    with pytest.raises(RedStarError, match="REDSTAR_PROGRESS_EVERY must be a number"):
        progress_every()
    with pytest.raises(RedStarError, match="more than 0"):
        progress_every(0)


def test_eta_from_average_rate():
    assert eta_seconds(0, 10, 5.0) is None
    assert eta_seconds(5, None, 5.0) is None
    assert eta_seconds(5, 10, 5.0) == 5.0
    assert clock_text(None) == "-:--:--"
    assert clock_text(3725) == "1:02:05"
    assert rate_text(5000, 2.0) == "2500/s" and rate_text(5, 2.0) == "2.5/s" and rate_text(1, 4.0) == "15.0/min"


def test_terminal_display_shows_an_eta_after_the_first_update():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, force_interactive=True, width=120)
    clock = FakeClock()
    board = ProgressBoard(console, clock=clock)
    assert board.live and not board.plain
    with board.task("sampling teacher", 100) as update:
        clock.now += 10
        update(20, None)  # rich's own column would still say -:--:-- here
        task = board._progress.tasks[0]
        text = RateEtaColumn().render(task).plain
        assert text == "2.0/s eta 0:00:40"
