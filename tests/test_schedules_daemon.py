"""Schedules run by real daemons: each due time once, however many daemons run."""

from __future__ import annotations

from conftest import Cli, both_backends, wait_for


def scheduled_jobs(cli: Cli) -> list[tuple[int, float, str]]:
    return cli.rows("SELECT id, due_at, state FROM jobs WHERE schedule IS NOT NULL ORDER BY due_at")


# On PostgreSQL: test_postgres_hosts.py's three hosts, which also check for gaps.
def test_two_daemons_enqueue_each_due_time_once(cli: Cli, write_config, daemons) -> None:
    write_config('[jobs.tick]\ncommand = "true"\nevery = "1s"\n')
    cli.ok("stats")  # create the database before two daemons race to
    daemons.start()
    daemons.start()
    wait_for(lambda: len(scheduled_jobs(cli)) >= 6, timeout=30, what="6 scheduled runs")
    daemons.stop_all()
    jobs = scheduled_jobs(cli)
    due_times = [due for _, due, _ in jobs]
    assert len(set(due_times)) == len(due_times)  # no due time twice
    assert all(due == int(due) for due in due_times)  # on the 1 s grid, whoever woke late
    span = due_times[-1] - due_times[0] + 1
    # One run per second of the span, allowing one second a busy machine let
    # slip past (catch_up = "once" then runs only the latest): 5 to 7 in 6 s.
    assert span - 1 <= len(due_times) <= span


def test_schedules_lists_next_and_last_run(cli: Cli, write_config, daemons) -> None:
    write_config(
        '[jobs.tick]\ncommand = "true"\nevery = "1s"\n'
        '[jobs.nightly]\ncommand = "true"\ncron = "30 2 * * *"\ntimezone = "Europe/Berlin"\n'
    )
    daemons.start()
    wait_for(
        lambda: any(state == "succeeded" for _, _, state in scheduled_jobs(cli)),
        what="a run succeeded",
    )
    shown = {s["name"]: s for s in cli.json("schedules")}
    assert shown["tick"]["expression"] == "every 1s" and shown["tick"]["last_job_id"]
    assert shown["tick"]["last_state"] in ("queued", "running", "succeeded")
    nightly = shown["nightly"]
    assert nightly["timezone"] == "Europe/Berlin" and nightly["last_job_id"] is None
    assert nightly["next_run"].endswith(("00:30:00Z", "01:30:00Z"))  # 02:30 in Berlin
    table = cli.ok("schedules").splitlines()
    assert table[0].split("\t")[:3] == ["schedule", "expression", "zone"]
    assert any(row.startswith("nightly\t30 2 * * *\tEurope/Berlin\t") for row in table)


@both_backends
def test_no_schedules_flag_and_overlap_skip(cli: Cli, write_config, daemons) -> None:
    write_config('[jobs.slow]\ncommand = "sleep 30"\nevery = "1s"\n')
    quiet = daemons.start("--no-schedules")
    busy = daemons.start()
    wait_for(lambda: len(scheduled_jobs(cli)) == 1, what="the first run")
    # While the first run is running, later due times are skipped, with an event.
    first = scheduled_jobs(cli)[0][0]

    def skipped_events() -> int:
        return sum(e["kind"] == "skipped" for e in cli.json("show", str(first))["events"])

    wait_for(lambda: skipped_events() >= 2, what="skipped runs")
    assert len(scheduled_jobs(cli)) == 1
    assert "schedule slow:" not in daemons.log_path(0).read_text()  # it enqueues nothing
    assert quiet.poll() is None and busy.poll() is None
