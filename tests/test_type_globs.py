"""`jobctl daemon --types` / $JOBCTL_TYPES / $JOBCTL_QUEUES, and `--type` globs
of ls, retry --failed and purge, through the real command (issue 15, item 2)."""

from __future__ import annotations

import signal
import time

from conftest import Cli, wait_for

CONFIG = """
[jobs."email:send"]
handler = "jobctl.examples:noop"

[jobs."email:bounce"]
handler = "jobctl.examples:noop"

[jobs."report:x"]
handler = "jobctl.examples:noop"
queue = "reports"
"""


def _add_all(cli: Cli) -> dict[str, str]:
    ids = {name: cli.ok("add", name).strip() for name in ("email:send", "email:bounce", "report:x")}
    ids["adhoc"] = cli.ok("add", "--", "true").strip()
    return ids


def _state(cli: Cli, job_id: str) -> str:
    return cli.json("show", job_id)["state"]


def _states(cli: Cli, ids: dict[str, str]) -> dict[str, str]:
    return {name: _state(cli, job_id) for name, job_id in ids.items()}


def _log(daemons, number: int = 0) -> str:
    return daemons.log_path(number).read_text()


def test_drain_with_types_runs_only_matching_types(cli: Cli, write_config, daemons) -> None:
    write_config(CONFIG)
    ids = _add_all(cli)
    assert daemons.start("--drain", "--types", "email:*").wait(timeout=60) == 0
    assert _states(cli, ids) == {
        "email:send": "succeeded",
        "email:bounce": "succeeded",
        "report:x": "queued",
        "adhoc": "queued",  # no pattern stands for ad hoc commands
    }
    assert 'types "email:*" (email:bounce, email:send)' in _log(daemons)


def test_jobctl_types_from_the_environment(cli: Cli, write_config, daemons) -> None:
    write_config(CONFIG)
    ids = _add_all(cli)
    cli.env["JOBCTL_TYPES"] = "report:*"
    assert daemons.start("--drain").wait(timeout=60) == 0
    assert _states(cli, ids) == {
        "email:send": "queued",
        "email:bounce": "queued",
        "report:x": "succeeded",
        "adhoc": "queued",
    }
    assert 'types "report:*" (report:x)' in _log(daemons)


def test_the_flag_wins_over_the_environment(cli: Cli, write_config, daemons) -> None:
    write_config(CONFIG)
    ids = _add_all(cli)
    cli.env["JOBCTL_TYPES"] = "report:*"
    cli.env["JOBCTL_QUEUES"] = "nothing-here"
    proc = daemons.start("--drain", "--types", "email:send", "--queues", "default")
    assert proc.wait(timeout=60) == 0
    assert _states(cli, ids) == {
        "email:send": "succeeded",
        "email:bounce": "queued",
        "report:x": "queued",
        "adhoc": "queued",
    }


def test_jobctl_queues_from_the_environment_and_both_filters(
    cli: Cli, write_config, daemons
) -> None:
    write_config(CONFIG)
    ids = _add_all(cli)
    other = cli.ok("add", "report:x", "--queue", "default").strip()
    cli.env["JOBCTL_QUEUES"] = "default"
    # A job must match both: report:x in "reports" is left, in "default" it runs.
    assert daemons.start("--drain", "--types", "report:*,email:bounce").wait(timeout=60) == 0
    assert _states(cli, ids) == {
        "email:send": "queued",
        "email:bounce": "succeeded",
        "report:x": "queued",
        "adhoc": "queued",
    }
    assert _state(cli, other) == "succeeded"
    assert 'queues "default"' in _log(daemons)


def test_ad_hoc_commands_take_dash_or_a_glob_matching_everything(
    cli: Cli, write_config, daemons
) -> None:
    write_config(CONFIG)
    ids = _add_all(cli)
    assert daemons.start("--drain", "--types", "email:send,-").wait(timeout=60) == 0
    assert _states(cli, ids) == {
        "email:send": "succeeded",
        "email:bounce": "queued",
        "report:x": "queued",
        "adhoc": "succeeded",
    }
    assert "(email:send, ad hoc commands)" in _log(daemons)
    again = cli.ok("add", "--", "true").strip()
    assert daemons.start("--drain", "--types", "*").wait(timeout=60) == 0
    assert set(_states(cli, ids).values()) == {"succeeded"}
    assert _state(cli, again) == "succeeded"


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def test_no_spin_on_ready_jobs_of_other_types_and_due_jobs_still_run(
    cli: Cli, write_config, daemons
) -> None:
    write_config(CONFIG)
    for _ in range(20):
        cli.ok("add", "email:send")
    later = cli.ok("add", "report:x", "--in", "2s").strip()
    proc = daemons.start("--types", "report:*", "--no-schedules", "--no-workers")
    wait_for(lambda: "started" in _log(daemons), what="the start line")
    before = _cpu_seconds(proc.pid)
    time.sleep(1.0)
    # A daemon woken again and again by ready jobs it may not take would
    # burn a second of CPU here; an idle one, hardly any.
    assert _cpu_seconds(proc.pid) - before < 0.3
    # The due timer looks at report:x only: it runs when due, with no commit
    # to wake the daemon.
    wait_for(lambda: _state(cli, later) == "succeeded", timeout=10, what="report:x ran")
    assert cli.json("ls", "--state", "queued", "--type", "email:*").__len__() == 20


def test_a_reload_resolves_the_globs_again(cli: Cli, write_config, daemons) -> None:
    write_config('[jobs."email:send"]\nhandler = "jobctl.examples:noop"\n')
    proc = daemons.start("--types", "email:*", "--no-schedules", "--no-workers")
    wait_for(lambda: "started" in _log(daemons), what="the start line")
    assert 'types "email:*" (email:send)' in _log(daemons)
    write_config(CONFIG)
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in _log(daemons), what="the reload")
    assert 'types "email:*" (email:bounce, email:send)' in _log(daemons).split("reloaded")[1]
    bounce = cli.ok("add", "email:bounce").strip()
    report = cli.ok("add", "report:x").strip()
    wait_for(lambda: _state(cli, bounce) == "succeeded", what="email:bounce ran")
    time.sleep(0.3)
    assert _state(cli, report) == "queued"


def test_ls_retry_purge_take_type_globs(cli: Cli, write_config, daemons) -> None:
    write_config(
        CONFIG
        + '\n[jobs."email:fail"]\ncommand = "false"\nmax_attempts = 1\n'
        + '\n[jobs."report:fail"]\ncommand = "false"\nmax_attempts = 1\nqueue = "reports"\n'
    )
    ids = _add_all(cli)
    email_fail = cli.ok("add", "email:fail").strip()
    report_fail = cli.ok("add", "report:fail").strip()
    adhoc_fail = cli.ok("add", "--", "false").strip()

    def listed(*args: str) -> set[str]:
        return {str(job["id"]) for job in cli.json("ls", *args)}

    assert listed("--type", "email:*") == {ids["email:send"], ids["email:bounce"], email_fail}
    assert listed("--type", "report:*,-") == {ids["report:x"], report_fail, ids["adhoc"]} | {
        adhoc_fail
    }
    assert listed("--type", "email:?e*", "--state", "queued") == {ids["email:send"]}
    assert listed("--type", "email:send") == {ids["email:send"]}  # a plain name still works
    assert daemons.start("--drain").wait(timeout=60) == 0
    assert listed("--state", "failed", "--type", "*:fail") == {email_fail, report_fail}

    retried = cli.ok("retry", "--failed", "--type", "email:*").split()
    assert retried == [email_fail]
    assert _state(cli, report_fail) == "failed" and _state(cli, adhoc_fail) == "failed"
    assert cli.ok("retry", "--failed", "--type", "-").split() == [adhoc_fail]

    keep = cli.ok("add", "report:x").strip()  # the newest job always stays
    dry = cli.ok("purge", "--older-than", "0s", "--type", "report:*", "--dry-run")
    assert dry.strip() == "would purge 2 job(s): 1 failed, 1 succeeded"
    assert cli.ok("purge", "--older-than", "0s", "--type", "report:*").strip() == (
        "purged 2 job(s)"
    )
    remaining = {str(job["id"]) for job in cli.json("ls", "--limit", "100")}
    assert ids["report:x"] not in remaining and report_fail not in remaining
    assert {ids["email:send"], ids["email:bounce"], ids["adhoc"], keep} <= remaining


def test_help_shows_type_examples(cli: Cli) -> None:
    assert "--types 'email:*,report:*'" in cli.ok("daemon", "--help")
    assert "JOBCTL_TYPES" in cli.ok("daemon", "--help")
    assert "--type" in cli.ok("purge", "--help")
