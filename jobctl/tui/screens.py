"""The screens pushed over the main view: a job's detail, a confirmation, the help."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Log, Static

from jobctl.errors import JobctlError
from jobctl.models import FINISHED, Attempt, Event, Job, LogLine, State
from jobctl.render import json_text, printable_text
from jobctl.tui.cells import cut, first_line, literal

POLL = 0.25
__all__ = ["ConfirmScreen", "DetailScreen", "HelpScreen", "literal"]


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


class DetailData(Message):
    """What the detail poller read: the job, its history, and new output."""

    def __init__(
        self,
        job: Job,
        attempts: list[Attempt],
        events: list[Event],
        log: list[LogLine],
        output: list[tuple[int, int, bytes]],
        why: str | None = None,
    ) -> None:
        super().__init__()
        self.job, self.attempts, self.events, self.log, self.output = (
            job,
            attempts,
            events,
            log,
            output,
        )
        self.why = why  # what a queued job waits for


class Tail(Log):
    """The output, its latest line kept on screen when the box shrinks (the
    sections above it filling in after it was written)."""

    def on_resize(self) -> None:
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)


class DetailScreen(Screen):
    """One job: payload, result, error, attempts, events, and its output, live;
    r retries it, c cancels it, each asking first."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "retry", "Retry"),
        Binding("c", "cancel", "Cancel"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.stop = threading.Event()
        self.wake = threading.Event()  # read again now: an action changed the job
        self.shown_attempt: int | None = None
        self.job: Job | None = None  # as last shown

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        with VerticalScroll(id="details"):
            yield Static("Payload", classes="section-title")
            yield Static(id="payload", classes="field")
            yield Static("Result / error", classes="section-title")
            yield Static(id="result", classes="field")
            yield Static("Attempts", classes="section-title")
            yield DataTable(id="attempts", cursor_type="row")
            yield Static("Events", classes="section-title")
            yield DataTable(id="events", cursor_type="row")
            yield Static("Log (ctx.log)", classes="section-title")
            yield Static(id="log", classes="field")
        yield Tail(id="output", max_lines=5000)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#attempts", DataTable).add_columns(
            "#", "started", "took", "outcome", "exit", "output", "error"
        )
        self.query_one("#events", DataTable).add_columns("at", "event", "attempt", "detail")
        self.query_one("#output", Log).border_title = "Output"
        self.title = f"job {self.job_id}"
        self.poll()

    def on_unmount(self) -> None:
        self.stop.set()
        self.wake.set()

    @work(thread=True, exclusive=True, group="detail")
    def poll(self) -> None:
        queue = self.app.queue  # type: ignore[attr-defined]
        follower = None
        last = None
        while not self.stop.is_set():
            try:
                version = queue.store.data_version()
                if version != last or self.wake.is_set():
                    self.wake.clear()
                    last = version
                    if follower is None:
                        follower = queue.follow(self.job_id, None)
                    job = queue.get(self.job_id)
                    attempts = queue.attempts(self.job_id)
                    events = queue.events(self.job_id)
                    log = [line for a in attempts for line in queue.log_lines(job.id, a.number)]
                    why = queue.why_queued([job]).get(job.id)
                    output = follower.read()
                    self.post_message(DetailData(job, attempts, events, log, output, why))
            except JobctlError as exc:
                self.app.call_from_thread(
                    self.notify,
                    f"cannot read job: {printable_text(str(exc))}",
                    severity="error",
                    markup=False,
                )
            self.wake.wait(POLL)

    def on_detail_data(self, data: DetailData) -> None:
        job = self.job = data.job
        label = "type" if job.type else "command"
        summary = Text()
        summary.append(f"job {job.id}  ", style="bold")
        summary.append(job.state.value, style=_STATE_STYLE.get(job.state.value, ""))
        summary.append(f"  {label}: ")
        summary.append(printable_text(job.label))  # user text: plain, never as markup
        # One fact per line rather than a long line wrapped in the middle of one.
        summary.append(f"\nqueue {printable_text(job.queue)}  priority {job.priority}")
        summary.append(f"  attempt {job.attempt}/{job.max_attempts}")
        if job.labels:
            summary.append("  labels ")
            summary.append(printable_text(" ".join(job.labels)), style="magenta")
        summary.append(f"\ncreated {when(job.created_at)}  finished {when(job.finished_at)}")
        if data.why:
            summary.append("\nwhy queued: ")
            summary.append(printable_text(data.why), style="cyan")
        self.query_one("#summary", Static).update(summary)
        payload = json_text(job.payload, indent=2) if job.type else "-"
        self.query_one("#payload", Static).update(literal(payload))
        result = json_text(job.result, indent=2) if job.result else ""
        self.query_one("#result", Static).update(literal(result or job.error or "-"))
        attempts = self.query_one("#attempts", DataTable)
        attempts.clear()
        for a in data.attempts:
            attempts.add_row(
                a.number,
                when(a.started_at),
                _took(a.started_at, a.finished_at),
                literal(a.outcome or "running"),
                literal(a.exit_status if a.signal is None else f"signal {a.signal}"),
                f"{a.output_size} B",
                cut(literal(first_line(a.error)), 30),
            )
        events = self.query_one("#events", DataTable)
        events.clear()
        for e in data.events:
            events.add_row(when(e.at), e.kind, e.attempt or "", literal(e.detail))
        self.query_one("#log", Static).update(
            literal("\n".join(f"[{when(line.at)}] {line.labelled()}" for line in data.log) or "-")
        )
        output = self.query_one("#output", Log)
        for number, lost, chunk in data.output:
            if number != self.shown_attempt:
                if self.shown_attempt is not None:
                    output.write(f"\n-- attempt {number} --\n")
                self.shown_attempt = number
            if lost:
                output.write(f"\n-- {lost} bytes not kept (output_limit) --\n")
            output.write(printable_text(chunk.decode("utf-8", "backslashreplace")))
        self.sub_title = job.state.value if job.state in FINISHED else ""

    # -- actions ------------------------------------------------------------------

    def action_retry(self) -> None:
        self._act_on(
            (State.FAILED, State.CANCELLED),
            "only a failed or cancelled job can be retried",
            "Retry",
            lambda queue, job_id: queue.retry(job_id),
            lambda name, result: f"{name} queued again",
        )

    def action_cancel(self) -> None:
        self._act_on(
            (State.QUEUED, State.RUNNING),
            "only a queued or running job can be cancelled",
            "Cancel",
            lambda queue, job_id: queue.cancel(job_id),
            # "cancelled", or "cancelling" while its daemon stops it
            lambda name, result: f"{name} {result.get(self.job_id, 'cancelled')}",
        )

    def _act_on(
        self,
        states: tuple[State, ...],
        refusal: str,
        verb: str,
        change: Callable[[Any, int], Any],
        done: Callable[[str, Any], str],
    ) -> None:
        """Ask, then run `change` through the app (off the UI thread), toast
        `done` naming the job, and read the job again."""
        job = self.job
        if job is None:
            return  # not read yet
        label = job.label if len(job.label) <= 40 else job.label[:39] + "…"
        name = f"job {job.id} ({printable_text(label)})"
        if job.state not in states:
            self.notify(f"{name} is {job.state.value}: {refusal}", markup=False)
            return
        app: Any = self.app

        def answered(yes: bool | None) -> None:
            if yes:
                app._act(
                    lambda: change(app.queue, job.id),
                    lambda result: done(name, result),
                    self.wake.set,
                )

        app.push_screen(ConfirmScreen(f"{verb} job {job.id} ({label})?"), answered)


def _took(started: float | None, finished: float | None) -> str:
    """How long an attempt ran (a short column: at 80 columns the error fits)."""
    from jobctl.durations import format_duration

    if not started:
        return "-"
    return format_duration(max(0.0, (finished or time.time()) - started))


_STATE_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "dim",
}


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; y/Enter confirms, n/Escape does not."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(literal(self.question))
            yield Static("y: yes   n: no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


HELP = """\
Views:    o overview   j jobs   s schedules   w workers
Jobs:     0 all  1 queued  2 running  3 succeeded  4 failed  5 cancelled
          / filter by text (Enter applies, Escape clears)
          ] older page   [ newer page
          Enter detail   r retry   c cancel (asks first)
          p pause/resume its queue (asks first)
Workers:  t start   x stop   e restart
Detail:   Escape back   r retry   c cancel (each asks first)
Anywhere: ? this help   q quit   ctrl+p commands
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        yield Static(Text(HELP.rstrip("\n"), no_wrap=True), id="help-box")
