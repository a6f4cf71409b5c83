"""What the jobs table's cells say, and how wide its columns are.

One rule for text that does not fit: it is cut to the room it has and ends
with "…" (rich's truncate, which counts terminal cells, so a wide character
is never split in half).  `cut` applies it now, to a known width; `fit`
marks a cell to be cut the same way when it is drawn, whatever width its
column has then, so a resize needs no new cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text

from jobctl.render import printable_text

if TYPE_CHECKING:
    from jobctl.api import Queue
    from jobctl.models import Job

ELLIPSIS = "…"
# The jobs table, left to right: what says what a job is and why it stands
# where it does comes first, so that at 80 columns it is on screen; the
# rest is one scroll to the right, with the id column fixed.
JOB_COLUMNS = ("id", "state", "job", "error", "queue", "attempt", "age", "took")
LABELS = {"error": "error / why"}
FIXED = {"id": 7, "state": 9, "queue": 16, "attempt": 7, "age": 6, "took": 6}
FLEX = ("job", "error")  # share what the fixed columns leave
FLEX_MIN = 20  # each; below that the columns after "error" go off screen
FIRST = ("id", "state")  # the fixed columns always on screen
PADDING = 1  # DataTable's cell_padding, each side
SCROLLBAR = 2  # the vertical scrollbar, always shown (jobctl.tcss) so that widths add up
QUEUE_WIDTH = FIXED["queue"]
PAUSED = " (paused)"
STATE_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "dim",
}


def literal(value: Any) -> Text:
    """User data as a Text: never parsed as markup, its control characters
    (a job's escape sequences) shown escaped rather than sent to the terminal."""
    return Text("" if value is None else printable_text(str(value)))


def cut(text: str | Text, width: int) -> Text:
    """`text` in at most `width` terminal cells; it ends with "…" iff it was cut."""
    cell = text.copy() if isinstance(text, Text) else Text(text)
    if cell_len(cell.plain) <= width:
        return cell
    if width <= 0:
        return Text()
    cell.truncate(width, overflow="ellipsis")
    return cell


def fit(value: Any, style: str = "") -> Text:
    """User text as a one-line cell, cut with "…" to its column's width when drawn
    (a line break would hide what follows it: shown as ⏎)."""
    cell = literal(value)
    if "\n" in cell.plain or "\t" in cell.plain:
        cell = Text(cell.plain.replace("\n", "⏎").replace("\t", " "))
    cell.stylize(style)
    cell.no_wrap = True
    cell.overflow = "ellipsis"
    return cell


def job_widths(table_width: int) -> dict[str, int]:
    """Each column's width for a table `table_width` cells wide: the fixed
    ones as they are, job and error sharing the rest.  When that leaves
    them less than FLEX_MIN each, id, state, job and error fill the screen
    and the columns after them are a scroll to the right."""
    room = table_width - SCROLLBAR
    shared = room - sum(FIXED.values()) - 2 * PADDING * len(JOB_COLUMNS)
    if shared < 2 * FLEX_MIN:
        first = FIRST + FLEX
        shared = room - sum(FIXED[c] for c in FIRST) - 2 * PADDING * len(first)
        shared = max(shared, FLEX_MIN)
    widths = dict(FIXED)
    widths["error"] = shared // 2
    widths["job"] = shared - shared // 2
    return widths


def queue_cell(name: str, paused: bool) -> Text:
    """The queue's name, and "(paused)" after it while the queue is paused:
    the marker is cut last, so a long name cannot hide it."""
    if not paused:
        return fit(name)
    cell = cut(literal(name), QUEUE_WIDTH - len(PAUSED))
    cell.append(PAUSED, style="bold yellow")
    return cell


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def clock_texts(job: Job, now: float) -> tuple[str, str]:
    """The texts of a job's age and took cells: the only cells that change
    as time passes (tables.JobRows remakes just these)."""
    from jobctl.durations import format_duration

    took = (job.finished_at or now) - job.started_at if job.started_at else None
    return (
        format_duration(max(0.0, now - job.created_at)),
        format_duration(max(0.0, took)) if took is not None else "",
    )


def job_text(job: Job) -> Text:
    """What the job runs, then its labels as `#nightly`: cut with "…" like the rest."""
    cell = fit(job.label)
    for label in job.labels:
        cell.append(f" #{printable_text(label)}", style="magenta")
    return cell


def job_cells(job: Job, now: float, paused: bool = False, why: str | None = None) -> list[Text]:
    """The row of `job`, in JOB_COLUMNS' order; `why`: what a queued job waits for."""
    age, took = clock_texts(job, now)
    note = fit(why, "cyan") if why else fit(first_line(job.error), "red")
    cells = {
        "id": Text(str(job.id)),
        "state": fit(job.state.value, STATE_STYLE.get(job.state.value, "")),
        "job": job_text(job),
        "error": note,
        "queue": queue_cell(job.queue, paused),
        "attempt": fit(f"{job.attempt}/{job.max_attempts}"),
        "age": fit(age),
        "took": fit(took),
    }
    return [cells[column] for column in JOB_COLUMNS]


class JobPage(list):  # type: ignore[type-arg]
    """A page of jobs as read, with what each queued one waits for."""

    why: dict[int, str]


def with_reasons(queue: Queue, jobs: Iterable[Job]) -> JobPage:
    """`jobs` as a JobPage: why each queued job is not running (in the read
    thread: it reads the paused queues, live daemons and parents)."""
    page = JobPage(jobs)
    page.why = queue.why_queued(page)
    return page
