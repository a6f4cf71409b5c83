"""Issue 18, items 9 and 3: the dashboard fits 80x24 and 120x40 (cut text
ends with "…", the footer's keys on screen, the id column kept when the
table scrolls sideways, the help sized to its text, a running job's output
in its detail without scrolling, the daemons in the overview) and shows why
a queued job waits.  Driven headless like tests/test_tui.py, on what the
terminal would show: the screen's text, cell by cell."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from test_tui import rows, until

import jobctl
from jobctl.models import Outcome
from jobctl.store import Store
from jobctl.tui import JobctlApp
from jobctl.tui.cells import ELLIPSIS, FIXED, JOB_COLUMNS, PADDING, SCROLLBAR, cut, job_widths
from jobctl.tui.screens import HELP, DetailScreen, HelpScreen

LONG = ["curl", "-sf", "https://example.com/" + "very/" * 20 + "long"]
WIDE = ["echo", "全角の文字は二つの桁を取る全角の文字は二つの桁を取る"]


@settings(max_examples=400, deadline=None)
@given(
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Cf", "Mn", "Me", "Zl", "Zp"))),
    st.integers(0, 40),
)
def test_cut_fits_its_width_and_ends_with_an_ellipsis_iff_it_cut(text: str, width: int) -> None:
    shown = cut(text, width).plain
    assert cell_len(shown) <= width
    if cell_len(text) <= width:
        assert shown == text
    else:
        assert shown.endswith(ELLIPSIS) or width == 0
        assert text.startswith(shown[:-1].rstrip())  # a wide character may leave a space


def test_job_and_error_share_what_the_fixed_columns_leave() -> None:
    for width in range(60, 260):
        widths = job_widths(width)
        assert {c: widths[c] for c in FIXED} == FIXED
        shown = [(c, widths[c] + 2 * PADDING) for c in JOB_COLUMNS]
        total = sum(w for _, w in shown)
        room = width - SCROLLBAR
        if total > room:
            # Then id, state, job and error fill the screen exactly: no column half shown.
            assert sum(w for _, w in shown[:4]) == room
        assert abs(widths["job"] - widths["error"]) <= 1


def screen(app: JobctlApp) -> list[list[str]]:
    """The screen as the terminal shows it: one string per cell (a wide
    character, then "" for the cell it covers)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    lines = []
    for line in console.export_text(styles=False).splitlines():
        cells: list[str] = []
        for char in line:
            cells.extend([char] if cell_len(char) < 2 else [char, ""])
        lines.append(cells)
    return lines


def text_of(app: JobctlApp) -> str:
    return "\n".join("".join(line) for line in screen(app))


def add_jobs(db: Path) -> dict[str, int]:
    """A failed job whose error is "exit status 28" (a long command), a
    running one with 40 lines of output, one due in 2h, one in a paused
    queue (a command of wide characters), one waiting on another."""
    queue = jobctl.connect(db, None)
    failed = queue.add_id(command=LONG, max_attempts=1)
    running = queue.add_id(command=["sh", "-c", "seq 40"])
    store = Store.open(db)
    try:
        now = time.time()
        daemon = store.register_daemon("layout", 1, None, None, now)
        claimed = {c.job.id: c.attempt for c in store.claim(daemon, 10, now, now + 600)}
        output = "".join(f"line {n}\n" for n in range(1, 41)).encode()
        store.record(
            [Outcome(failed, claimed[failed], "failed", exit_status=28, error="exit status 28")],
            [(running, claimed[running], 0, output)],
            [],
            now + 1,
            1 << 20,
            lambda job, outcome: 0.0,
        )
    finally:
        store.close()
    later = queue.add_id(command=["sleep", "1"], delay="2h")
    wide = queue.add_id(command=WIDE, queue="email")
    queue.pause("email")
    return {"failed": failed, "running": running, "later": later, "wide": wide}


def check_cells(app: JobctlApp, lines: list[list[str]]) -> dict[str, dict[str, str]]:
    """Every job cell on screen shows its whole text or a cut one ending
    with "…", and no column is half on screen; {id: {column: shown}}."""
    table = app.query_one("#jobs-table")
    assert table.scroll_x == 0
    right = table.region.right - SCROLLBAR
    shown: dict[str, dict[str, str]] = {}
    for index, key in enumerate(rows(app)):
        y = table.region.y + 1 + index
        x = table.region.x
        shown[key] = {}
        for column, width in table.column_widths():
            if x >= right:
                break
            assert x + width <= right, f"column {column} half on screen"
            seen = "".join(lines[y][x + PADDING : x + width - PADDING]).rstrip()
            whole = table.get_cell(key, column).plain
            if seen != whole:
                assert seen.endswith(ELLIPSIS), f"{seen!r} is {whole!r} cut without …"
                assert whole.startswith(seen[:-1].rstrip())
            shown[key][column] = seen
            x += width
    return shown


async def footer_keys_on_screen(app: JobctlApp, pilot: Any) -> None:
    from textual.widgets._footer import FooterKey

    width, height = app.size

    def laid_out() -> bool:  # composed once the focus settles, then placed
        keys = app.screen.query(FooterKey)
        return bool(keys) and all(key.region.y == height - 1 for key in keys)

    await until(pilot, laid_out)
    bottom = "".join(screen(app)[height - 1])
    for key in app.screen.query(FooterKey):
        assert key.region.right <= width
        assert f"{key.key_display} {key.description}" in bottom, (key.description, bottom)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_the_dashboard_fits(tmp_path: Path, size: tuple[int, int]) -> None:
    db = tmp_path / "jobs.db"
    ids = add_jobs(db)
    width, height = size

    async def go() -> None:
        app = JobctlApp(jobctl.connect(db, None))
        async with app.run_test(size=size) as pilot:
            table = app.query_one("#jobs-table")
            await until(pilot, lambda: len(rows(app)) == 4)
            await until(pilot, lambda: "due in" in text_of(app))
            shown = check_cells(app, screen(app))
            # The error whole, the long command and the wide one cut with "…".
            assert shown[str(ids["failed"])]["error"] == "exit status 28"
            assert shown[str(ids["failed"])]["job"].endswith(ELLIPSIS)
            assert shown[str(ids["wide"])]["job"].endswith(ELLIPSIS)
            # Why the queued ones wait, in the error / why column.
            assert shown[str(ids["later"])]["error"].startswith("due in 2h")
            assert shown[str(ids["wide"])]["error"] == "queue email paused"
            await footer_keys_on_screen(app, pilot)

            # Sideways: the id column stays.
            await pilot.press("right", "right")
            if width < 120:
                await until(pilot, lambda: table.scroll_x > 0)
            table.scroll_to(x=table.max_scroll_x, animate=False)  # and all the way
            await pilot.pause(0.1)
            lines = screen(app)
            x, y = table.region.x, table.region.y
            assert "took" in "".join(lines[y])  # the last column
            for index, key in enumerate(rows(app)):
                assert "".join(lines[y + 1 + index][x : x + FIXED["id"] + 2]).strip() == key
            table.scroll_to(x=0, animate=False)

            # A running job's detail: its latest output on screen, unscrolled.
            table.move_cursor(row=rows(app).index(str(ids["running"])))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            await until(pilot, lambda: "line 40" in text_of(app))
            assert "line 35" in text_of(app)  # the tail, not one line
            await footer_keys_on_screen(app, pilot)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen))

            # A queued job's detail says what it waits for.
            table.move_cursor(row=rows(app).index(str(ids["wide"])))
            await pilot.press("enter")
            await until(pilot, lambda: "why queued: queue email paused" in text_of(app))
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen))

            # The help: its box as wide as its text, every line on screen.
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause(0.1)
            box = app.screen.query_one("#help-box").region
            longest = max(cell_len(line) for line in HELP.splitlines())
            assert box.width == longest + 2 * 2 + 2  # padding and border
            assert box.right <= width and box.bottom <= height
            on_screen = text_of(app)
            assert all(line.strip() in on_screen for line in HELP.splitlines())
            await pilot.press("escape")

            # The overview: the daemons on screen without scrolling.
            await pilot.press("o")
            await until(pilot, lambda: "daemon  " in text_of(app))
            daemons = app.query_one("#daemons-overview").region
            assert daemons.bottom <= height - 1
            await footer_keys_on_screen(app, pilot)

    asyncio.run(go())


def test_a_line_break_in_a_command_is_shown_not_hidden(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(shell="echo one\necho two")

    async def go() -> None:
        app: Any = JobctlApp(jobctl.connect(db, None))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: rows(app) == [str(job_id)])
            assert "echo one⏎echo two" in text_of(app)

    asyncio.run(go())
