"""`jobctl tui`: a live dashboard of one jobctl database.

Reads happen in a thread worker with its own connection (the API's Queue
keeps one per thread); it wakes when SQLite's data_version moves, or when a
filter changes, reads one page of jobs (never the whole table: DataTable
measures every cell it holds) and what the other views show, and posts it
as one Snapshot message.  Widgets change only in the message handlers.
Every action goes through the same API as the CLI.  User text reaches the
screen as rich Text, never as markup.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
)

from jobctl.api import DaemonInfo, Queue, ScheduleInfo, WorkerInfo, unserved_message
from jobctl.errors import JobctlError
from jobctl.models import Job
from jobctl.render import printable_text
from jobctl.tui.cells import (
    JobPage,
    cut,
    first_line,
    job_cells,
    with_reasons,
)
from jobctl.tui.chart import FinishedChart
from jobctl.tui.feed import POLL, Feed
from jobctl.tui.jobs_table import JobsTable as JobsTableBase
from jobctl.tui.poke import Poke
from jobctl.tui.screens import ConfirmScreen, DetailScreen, HelpScreen, literal
from jobctl.tui.tables import JobRows, set_rows
from jobctl.tui.where import where

PAGE = 200  # rows per page of the jobs table
SERVED_EVERY = 1.0  # seconds between looks at which daemons are live
# The header's left icon and "jobctl — " before the subtitle.
HEADER_USED = 8 + len("jobctl — ") + 1
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
STATE_KEYS = {"0": None, "1": "queued", "2": "running", "3": "succeeded", "4": "failed"}
STATE_KEYS["5"] = "cancelled"


class Snapshot(Message):
    """Everything the views show, read in one go by the poller."""

    def __init__(self, **parts: Any) -> None:
        super().__init__()
        self.parts = parts


class Unserved(Message):
    """The queues with queued jobs that no live daemon serves (empty: all served)."""

    def __init__(self, queues: list[str]) -> None:
        super().__init__()
        self.queues = queues


class Notice(Message):
    """A database problem to show (None: it is over)."""

    def __init__(self, text: str | None) -> None:
        super().__init__()
        self.text = text


def _ago(seconds: float) -> str:
    from jobctl.durations import format_duration

    return format_duration(max(0.0, seconds))


class JobsTable(JobsTableBase):
    # The footer shows what fits in 80 columns; ? lists every key.
    BINDINGS = [
        Binding("enter", "app.detail", "Detail"),
        Binding("r", "app.retry", "Retry"),
        Binding("c", "app.cancel", "Cancel"),
        Binding("p", "app.pause", "Pause"),
        Binding("slash", "app.filter", "Filter"),
        Binding("right_square_bracket", "app.page(1)", "Older", show=False),
        Binding("left_square_bracket", "app.page(-1)", "Newer", show=False),
        *[Binding(key, f"app.state({key})", show=False) for key in STATE_KEYS],
    ]

    def sight_grew(self) -> None:
        self.app.poke.set()  # the poller reads the rows now in sight (feed.py)


class WorkersTable(DataTable):
    BINDINGS = [
        Binding("t", "app.worker('start')", "Start"),
        Binding("x", "app.worker('stop')", "Stop"),
        Binding("e", "app.worker('restart')", "Restart"),
    ]


class JobctlApp(App):
    CSS_PATH = "jobctl.tcss"
    TITLE = "jobctl"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        # Not in the footer: the tabs name these keys.
        Binding("o", "view('overview')", "Overview", show=False),
        Binding("j", "view('jobs')", "Jobs", show=False),
        Binding("s", "view('schedules')", "Schedules", show=False),
        Binding("w", "view('workers')", "Workers", show=False),
    ]

    def __init__(self, queue: Queue, clock: Any = time.time) -> None:
        super().__init__()
        self.queue = queue
        self.clock = clock
        self.state_filter: str | None = None
        self.text_filter = ""
        self.newer_than: list[int | None] = []  # page stack: before_id of each newer page
        self.before_id: int | None = None  # None: the newest page
        self.poke = Poke()  # a filter changed: read again now
        self.paused: set[str] = set()  # paused queues, from the last full snapshot
        self.limits: dict[str, tuple[int, str]] = {}  # their parallel limits (see stats)
        self.job_queues: dict[int, str] = {}  # the shown page's job -> queue
        self.to_top = False  # a text filter was applied: go to its newest job
        self.stopping = threading.Event()
        self.tab = "jobs"  # the view on screen: the poller reads only what it shows
        self.feed = Feed(queue, clock, self._read_jobs, PAGE, self._in_sight)
        self.stats: dict[str, dict[str, int]] = {}  # the last counts read
        self._shown_text: dict[str, str] = {}  # Static -> the text it shows
        self._job_rows = JobRows(job_cells)  # the jobs table's cells, per job

    # -- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="notice")
        yield Static(id="unserved")
        # Each tab names its key: the footer leaves them out to fit 80 columns.
        with TabbedContent(initial="jobs", id="views"):
            with TabPane("o Overview", id="overview"):
                yield Static("Jobs per state", classes="section-title")
                yield DataTable(id="counts", cursor_type="none")
                # Second, so that at 80x24 they are on screen without scrolling.
                yield Static("Daemons and workers (w: details)", classes="section-title")
                yield DataTable(id="daemons-overview", cursor_type="none")
                yield Static("Queues", classes="section-title")
                yield DataTable(id="queues", cursor_type="none")
                yield Static(id="chart-title", classes="section-title")
                yield FinishedChart(id="chart")
                yield Static("Failures in the last hour", classes="section-title")
                yield DataTable(id="failures", cursor_type="none")
            with TabPane("j Jobs", id="jobs"):
                yield Static(id="filter-bar")
                yield JobsTable(id="jobs-table")
                yield Input(placeholder="text in the type, command or error", id="filter-input")
            with TabPane("s Schedules", id="schedules"):
                yield DataTable(id="schedules-table", cursor_type="row")
            with TabPane("w Workers", id="workers"):
                yield WorkersTable(id="workers-table", cursor_type="row")
                yield Static("Live daemons", classes="section-title")
                yield DataTable(id="daemons-table", cursor_type="row")
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; ? says so

    def on_mount(self) -> None:
        # The main screen's widgets, found from there: while a detail or a
        # dialog is on top, self.query_one() would search that screen.
        self.main = self.screen
        self.main.query_one("#counts", DataTable).add_columns(*STATES, "total")
        queues = self.main.query_one("#queues", DataTable)
        queues.add_columns("queue", *STATES, "paused", "parallel")
        self.main.query_one("#failures", DataTable).add_columns("id", "job", "finished", "error")
        self.main.query_one("#daemons-overview", DataTable).add_columns("what", "name", "state")
        jobs = self.jobs_table = self.main.query_one("#jobs-table", JobsTable)
        self.main.query_one("#schedules-table", DataTable).add_columns(
            "schedule", "expression", "zone", "next", "last due", "last run"
        )
        self.main.query_one("#workers-table", DataTable).add_columns(
            "worker", "state", "pid", "uptime", "restarts", "last exit", "daemon"
        )
        self.main.query_one("#daemons-table", DataTable).add_columns(
            "daemon", "pid", "host", "started", "heartbeat", "running jobs"
        )
        self._show_filter()
        self._show_where()
        jobs.focus()
        self.poll()

    def on_resize(self) -> None:
        self._show_where()

    def _show_where(self) -> None:
        width = max(20, self.size.width - HEADER_USED)
        self.sub_title = where(self.queue.db_path, self.queue.config.path, width)

    def on_unmount(self) -> None:
        self.stopping.set()
        self.poke.set()

    # -- reading, in a thread ------------------------------------------------------

    @work(thread=True, exclusive=True, group="poll")
    def poll(self) -> None:
        """What to read and when: see feed.py."""
        feed = self.feed
        trouble = False
        served_at = float("-inf")
        unserved: list[str] | None = None
        watcher = self.queue.store.watcher(POLL, eager=False)
        while not self.stopping.is_set():
            try:
                self.poke.clear()
                queued = feed.queued
                parts = feed.next(self.tab, self._view())
                if feed.moved:
                    watcher.settle()
                if parts is not None:
                    self.post_message(Snapshot(**parts))
                    if feed.queued != queued:
                        served_at = float("-inf")
                if trouble:
                    self.post_message(Notice(None))
                    trouble = False
                if time.monotonic() - served_at >= SERVED_EVERY:
                    # The daemons' rows only, not the jobs: a daemon's lease
                    # runs out with no write, so this is timed, not woken.
                    served_at = time.monotonic()
                    now_unserved = self.queue.unserved(feed.queued) if feed.queued else []
                    if now_unserved != unserved:
                        unserved = now_unserved
                        self.post_message(Unserved(unserved))
            except JobctlError as exc:  # locked or busy: say so, try again
                trouble = True
                self.post_message(Notice(f"database: {exc} (retrying)"))
            # Woken by a commit (watcher.live) or a poke; else at the next
            # look the feed or the served-check wants.  While a read is held
            # back (MIN_GAP) it reads whatever commits come until then: at 20
            # jobs a second they would wake the poller some 60 times for it.
            timeout = feed.wait(watcher.live and not trouble)
            if feed.queued:
                timeout = min(timeout, served_at + SERVED_EVERY - time.monotonic())
            if feed.held_back:
                self.poke.wait(timeout)
            else:
                watcher.wait(timeout, also=(self.poke.fd,))
        watcher.close()
        self.poke.close()

    def _view(self) -> tuple[str | None, str, int | None]:
        """Which jobs the table shows: state filter, text filter, page."""
        return (self.state_filter, self.text_filter, self.before_id)

    def _read_jobs(self, view: tuple[str | None, str, int | None], limit: int) -> JobPage:
        state, text, before_id = view
        jobs = self.queue.list(state=state, text=text or None, limit=limit, before_id=before_id)
        return with_reasons(self.queue, jobs)  # and why each queued one waits

    def _in_sight(self) -> int | None:
        """Rows from the top of the jobs table the user sees: read by the
        poller, which reads the rest of the page less often.  Not the cursor's
        row: it follows its job down the page as new ones come in, off screen
        (moving it by key scrolls it into sight)."""
        return self.jobs_table.in_sight

    # -- showing ----------------------------------------------------------------

    def on_notice(self, notice: Notice) -> None:
        bar = self.main.query_one("#notice", Static)
        bar.update(literal(notice.text or ""))
        bar.set_class(notice.text is not None, "shown")

    def _widgets_gone(self) -> bool:
        """The main screen's widgets are gone: the app is closing, and a
        message the poller sent before it stopped comes too late to show."""
        return not self.jobs_table.is_attached

    def on_unserved(self, message: Unserved) -> None:
        if self._widgets_gone():
            return
        banner = self.main.query_one("#unserved", Static)
        banner.update(literal(unserved_message(message.queues) if message.queues else ""))
        banner.set_class(bool(message.queues), "shown")

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Show the parts the poller read (only those that changed: see feed.py)."""
        if self._widgets_gone():
            return
        parts = snapshot.parts
        now = parts["now"]
        if "paused" in parts:
            self.paused, self.limits = parts["paused"]
        if "jobs" in parts:
            view, jobs, _ = parts["jobs"]
            self._fill_jobs(jobs, now, view)
        if "stats" in parts:
            self.stats = parts["stats"]
        if "stats" in parts or "paused" in parts:
            self._fill_counts(self.stats)
        if "chart" in parts:
            self._fill_chart(*parts["chart"])
        if "failures" in parts:
            self._fill_failures(parts["failures"], now)
        if "workers" in parts:
            self._fill_workers(*parts["workers"], now)
        if "schedules" in parts:
            self._fill_schedules(parts["schedules"], now)

    def _fill_counts(self, stats: dict[str, dict[str, int]]) -> None:
        totals = {s: sum(q.get(s, 0) for q in stats.values()) for s in STATES}
        counts = self.main.query_one("#counts", DataTable)
        set_rows(counts, [("all", (*(totals[s] for s in STATES), sum(totals.values())))])
        queues = []
        for name in sorted(set(stats) | self.paused | set(self.limits)):
            per = stats.get(name, {})
            paused = "paused" if name in self.paused else ""
            limit = str(self.limits[name][0]) if name in self.limits else ""
            row = (literal(name), *(per.get(s, 0) for s in STATES), paused, limit)
            queues.append((name, row))
        set_rows(self.main.query_one("#queues", DataTable), queues)

    def _fill_chart(self, succeeded: list[int], failed: list[int]) -> None:
        self._update(
            "#chart-title",
            f"Finished per minute, last hour: {sum(succeeded)} succeeded (ok),"
            f" {sum(failed)} failed (fail)",
        )
        self.main.query_one("#chart", FinishedChart).show(succeeded, failed)

    def _fill_failures(self, failures: list[Job], now: float) -> None:
        rows = [
            (
                str(job.id),
                (
                    job.id,
                    cut(literal(job.label), 40),
                    _ago(now - (job.finished_at or now)) + " ago",
                    cut(literal(first_line(job.error)), 60),
                ),
            )
            for job in failures
        ]
        set_rows(self.main.query_one("#failures", DataTable), rows)

    def _update(self, selector: str, text: str) -> None:
        """Update a Static only when its text changes: an update lays the screen out again."""
        if self._shown_text.get(selector) != text:
            self._shown_text[selector] = text
            self.main.query_one(selector, Static).update(literal(text))

    def _fill_jobs(
        self, jobs: list[Job], now: float, view: tuple[str | None, str, int | None]
    ) -> None:
        """Update the page in place: changed cells, gone rows, new rows; keep the
        cursor, or after a text filter put it on the newest match."""
        table = self.jobs_table
        # Ages move on in whole seconds: see tables.JobRows.
        wanted = self._job_rows.page(jobs, math.ceil(now), self.paused, getattr(jobs, "why", {}))
        self.job_queues = {job.id: job.queue for job in jobs}
        table.set_rows(wanted)  # the cursor stays on its job
        if self.to_top and view == self._view():
            # The page read for this filter, not one read before it changed.
            self.to_top = False
            table.move_cursor(row=0, animate=False)
            table.scroll_to(y=0, animate=False)
        self._show_filter(len(jobs))

    def _fill_schedules(self, schedules: list[ScheduleInfo], now: float) -> None:
        rows = []
        for info in schedules:
            job = info.last_job
            cells = (
                literal(info.name),
                literal(info.expression),
                literal(info.timezone),
                f"in {_ago(info.next_run - now)}" if info.next_run is not None else "-",
                f"{_ago(now - info.last_due)} ago" if info.last_due is not None else "never",
                f"job {job.id} {job.state.value}" if job else "-",
            )
            rows.append((info.name, cells))
        set_rows(self.main.query_one("#schedules-table", DataTable), rows)

    def _fill_workers(
        self, workers: list[WorkerInfo], daemons: list[DaemonInfo], now: float
    ) -> None:
        """The workers view's two tables, and the overview's daemons and workers."""
        rows = []
        for worker in workers:
            shown = worker.to_json()
            uptime = shown["uptime_seconds"]
            cells = (
                literal(worker.name),
                worker.state,
                shown["pid"] or "",
                _ago(uptime) if uptime is not None else "",
                worker.restarts,
                worker.last_exit_text(),
                worker.daemon_id or "",
            )
            rows.append((worker.name, cells))
        table = self.main.query_one("#workers-table", DataTable)
        selected = self._cursor_key(table)
        if set_rows(table, rows) and selected in {w.name for w in workers}:
            table.move_cursor(row=table.get_row_index(selected), scroll=False)
        rows = [
            (
                str(daemon.id),
                (
                    daemon.id,
                    daemon.pid,
                    literal(daemon.host),
                    f"{_ago(now - daemon.started_at)} ago",
                    f"{_ago(now - daemon.heartbeat_at)} ago",
                    daemon.running_jobs,
                ),
            )
            for daemon in daemons
        ]
        set_rows(self.main.query_one("#daemons-table", DataTable), rows)
        both = [
            (f"daemon {d.id}", ("daemon", f"{d.id} (pid {d.pid})", f"{d.running_jobs} running"))
            for d in daemons
        ]
        both += [(f"worker {w.name}", ("worker", literal(w.name), w.state)) for w in workers]
        set_rows(self.main.query_one("#daemons-overview", DataTable), both)

    def _show_filter(self, shown: int | None = None) -> None:
        parts = [f"state: {self.state_filter or 'all'}"]
        if self.text_filter:
            parts.append(f'text: "{self.text_filter}"')
        page = len(self.newer_than) + 1
        parts.append(f"page {page}" + (f" ({shown} jobs)" if shown is not None else ""))
        parts.append("keys: 0-5 state, / text, [ ] pages, ? help")
        self._update("#filter-bar", "   ".join(parts))

    # -- selection ----------------------------------------------------------------

    @staticmethod
    def _cursor_key(table: DataTable) -> str | None:
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # the cursor is past the rows
            return None

    def selected_job_id(self) -> int | None:
        key = self.jobs_table.cursor_key
        return int(key) if key is not None else None

    # -- actions ------------------------------------------------------------------

    def _reload(self) -> None:
        self.poke.set()

    def action_view(self, name: str) -> None:
        # Focus leaves the old view first: a hidden table keeping it would
        # pass it to its neighbour there, and TabbedContent would switch back
        # to the pane holding the focus (o and s did nothing from Workers).
        self.main.set_focus(None)
        self.main.query_one("#views", TabbedContent).active = name
        target = {
            "jobs": "#jobs-table",
            "schedules": "#schedules-table",
            "workers": "#workers-table",
        }.get(name)
        if target:
            self.main.query_one(target).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # By key or by mouse: the poller reads only the view on screen, so
        # the one now shown is read at once.
        if event.tabbed_content.id == "views":
            self.tab = event.tabbed_content.active
            self.poke.set()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_state(self, key: str) -> None:
        self.state_filter = STATE_KEYS[str(key)]
        self.before_id, self.newer_than = None, []
        self._show_filter()
        self._reload()

    def action_filter(self) -> None:
        field = self.main.query_one("#filter-input", Input)
        field.add_class("shown")
        field.value = self.text_filter
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.text_filter = event.value.strip()
        self._close_filter()

    def on_key(self, event: Any) -> None:
        field = self.main.query_one("#filter-input", Input)
        if event.key == "escape" and field.has_focus:
            self.text_filter = ""
            self._close_filter()
            event.stop()

    def _close_filter(self) -> None:
        field = self.main.query_one("#filter-input", Input)
        field.remove_class("shown")
        self.before_id, self.newer_than = None, []
        self.to_top = True
        self.main.query_one("#jobs-table").focus()
        self._show_filter()
        self._reload()

    def action_page(self, step: int) -> None:
        table = self.jobs_table
        if step > 0:
            if table.row_count < PAGE:
                return  # this is the oldest page
            oldest = min(int(key) for key in table.row_keys)
            self.newer_than.append(self.before_id)
            self.before_id = oldest
        else:
            if not self.newer_than:
                return
            self.before_id = self.newer_than.pop()
        self._reload()

    def action_detail(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None:
            self.push_screen(DetailScreen(job_id))

    def action_retry(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None:
            self._act(lambda: self.queue.retry(job_id), f"job {job_id} queued again")

    def action_cancel(self) -> None:
        job_id = self.selected_job_id()
        if job_id is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda: self.queue.cancel(job_id), f"job {job_id}: cancel sent")

        self.push_screen(ConfirmScreen(f"Cancel job {job_id}?"), answered)

    def action_pause(self) -> None:
        job_id = self.selected_job_id()
        name = self.job_queues.get(job_id) if job_id is not None else None
        if name is None:
            return
        # What the question says is what happens, whatever changed meanwhile:
        # pausing a paused queue (or resuming a running one) is harmless.
        resume = name in self.paused
        verb = "Resume" if resume else "Pause"
        change = self.queue.resume if resume else self.queue.pause
        done = f"queue {printable_text(name)} {'resumed' if resume else 'paused'}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda: change(name), done)

        self.push_screen(ConfirmScreen(f"{verb} queue {name}?"), answered)

    def action_worker(self, what: str) -> None:
        name = self._cursor_key(self.main.query_one("#workers-table", DataTable))
        if name is not None:
            self._act(lambda: self.queue.worker_request(name, what), f"worker {name}: {what}")

    @work(thread=True, group="actions")
    def _act(
        self,
        change: Callable[[], Any],
        done: str | Callable[[Any], str],
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run one API call off the UI thread; say how it went (`done`: the
        toast, or makes it from what the call returned); `then` (thread-safe)
        runs after it, as well as a read of the main view."""
        try:
            result = change()
        except JobctlError as exc:
            self.call_from_thread(
                self.notify, printable_text(str(exc)), severity="error", markup=False
            )
            return
        text = done(result) if callable(done) else done
        self.call_from_thread(self.notify, text, markup=False)
        self.poke.set()
        if then is not None:
            then()
