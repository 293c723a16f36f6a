import io

from rich.console import Console

from mtb.progress import PlainProgress, RichProgress, make_progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    assert isinstance(make_progress(console, "judge"), PlainProgress)
    clock = Clock()
    progress = PlainProgress(console, "judge", interval=5.0, clock=clock)
    progress.start(100)
    for step in range(40):
        clock.now += 0.25
        progress.advance(failed=step == 3)
        if step % 10 == 0:
            progress.note_retry()
    progress.stop()
    lines = out.getvalue().splitlines()
    # One line per 5 s of progress (at 5 s and 10 s), then the closing line.
    assert lines == [
        "judge: 20/100 (1 failed, 2 retries), 4.0/s, ETA 20s",
        "judge: 40/100 (1 failed, 4 retries), 4.0/s, ETA 15s",
        "judge: 40/100 (1 failed, 4 retries), 4.0/s, ETA 15s",
    ]


def test_rich_bar_on_a_terminal_shows_counts_failures_and_retries() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150, color_system=None, _environ={})
    progress = make_progress(console, "generate")
    assert isinstance(progress, RichProgress)
    progress.start(10)
    for step in range(4):
        progress.advance(failed=step == 0)
    progress.note_retry()
    progress.stop()
    frames = [line for line in out.getvalue().replace("\r", "\n").splitlines() if "generate" in line]
    final = frames[-1]
    assert "generate" in final and "4/10" in final
    assert "1 failed" in final and "1 retries" in final and "ETA" in final


def test_no_progress_prints_only_the_summary() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    progress = make_progress(console, "judge", enabled=False)
    progress.start(3)
    for _ in range(3):
        progress.advance()
    progress.stop()
    assert out.getvalue().count("\n") == 1


def test_while_retrying_the_plain_line_shows_the_last_error_on_one_short_line() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=300)
    clock = Clock()
    progress = PlainProgress(console, "judge", interval=5.0, clock=clock)
    progress.start(4)
    clock.now += 6  # nothing completes; only retries happen
    progress.note_retry("HTTP 503: the model is\noverloaded " + "x" * 200)
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("judge: 0/4 (0 failed, 1 retries)")
    assert "last error: HTTP 503: the model is overloaded xxx" in line
    assert line.endswith("…") and len(line.split("last error: ")[1]) == 80


def test_the_plain_line_says_what_holds_requests_back() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    clock = Clock()
    progress = PlainProgress(console, "judge", interval=5.0, clock=clock)
    progress.start(10)
    clock.now += 6
    # A run held back completes nothing: the reason is printed on the usual schedule.
    progress.note_pace("all held 0.8 s: the server asked (Retry-After)")
    progress.note_pace("")  # nothing holds them back any more
    progress.advance()
    progress.stop()
    assert out.getvalue().splitlines() == [
        "judge: 0/10 (0 failed, 0 retries), 0.0/s; all held 0.8 s: the server asked (Retry-After)",
        "judge: 1/10 (0 failed, 0 retries), 0.2/s, ETA 54s",
    ]


def test_the_rich_bar_shows_the_pace() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None, _environ={})
    progress = RichProgress(console, "judge")
    progress.start(10)
    progress.note_pace("paced to 3.3 requests/s by the server's token limit")
    progress.advance()
    progress.stop()
    assert "paced to 3.3 requests/s by the server's token limit" in out.getvalue()
