"""Jobs that print without pause: the daemon's memory stays bounded, its
writes stay short (other commands keep working), and it stops when told.

Output is kept in a bounded tail per attempt and stored in pieces that are
added and deleted, never rewritten (see output_tail.py and migration 9).
"""

from __future__ import annotations

import signal

from conftest import Cli, Daemons, states, wait_for

GIB = 1_000_000_000
MB = 1 << 20
FLOODS = 4
# A flood begins once the test has seen all four running (the file `go`),
# so that the `add`s below happen while all four print.
GATED_FLOOD = "while [ ! -e go ]; do sleep 0.02; done; exec head -c {size} /dev/zero"


def _peak_rss(pid: int) -> int:
    """The process's peak resident set size so far, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _running(cli: Cli) -> int:
    return states(cli).get("running", 0)


def test_four_jobs_printing_1_gb_each(cli: Cli, daemons: Daemons) -> None:
    ids = [cli.ok("add", "--shell", GATED_FLOOD.format(size=GIB)).strip() for _ in range(FLOODS)]
    daemon = daemons.start("--concurrency", str(FLOODS), "--no-workers")
    wait_for(lambda: _running(cli) == FLOODS, what="four floods running")
    (cli.home / "go").touch()
    # Other commands go on working beside the flood: each of these commits
    # between the daemon's writes, which are short.
    added = []
    while _running(cli) or not added:
        result = cli("add", "--", "true")
        assert result.returncode == 0, result.stderr
        added.append(result.stdout.strip())
    wait_for(lambda: states(cli).get("succeeded", 0) == FLOODS + len(added), timeout=60)
    for job_id in ids:
        [attempt] = cli.json("show", job_id)["attempts"]
        assert attempt["outcome"] == "succeeded"
        assert attempt["output_bytes"] == GIB  # counted in full, kept in part
    tail = cli.store().output(int(ids[0]), 1)
    assert sum(len(data) for _, data in tail) <= 2 * MB  # output_limit (1 MiB), a piece more
    peak = _peak_rss(daemon.pid)
    assert peak < 100 * MB, f"daemon peak RSS {peak / MB:.0f} MB"
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0


def test_sigterm_stops_a_daemon_whose_jobs_print_without_end(
    cli: Cli, write_config, daemons: Daemons
) -> None:
    write_config('shutdown_grace = "1s"\n')
    ids = [cli.ok("add", "--", "yes", "flooding").strip() for _ in range(FLOODS)]
    daemon = daemons.start("--concurrency", str(FLOODS), "--no-workers")
    wait_for(lambda: _running(cli) == FLOODS, what="four floods running")
    wait_for(lambda: min(_printed(cli, ids)) > 100 * MB, timeout=60, what="100 MB each")
    peak = _peak_rss(daemon.pid)
    daemon.send_signal(signal.SIGTERM)
    # Acted on: the jobs are stopped after the grace and given back, and the
    # daemon exits.  (How soon is measured in bench/flood.py.)
    assert daemon.wait(timeout=30) == 0
    assert states(cli) == {"queued": FLOODS}
    assert peak < 100 * MB, f"daemon peak RSS {peak / MB:.0f} MB"


def _printed(cli: Cli, ids: list[str]) -> list[int]:
    """What each job's latest attempt has printed so far, as stored."""
    return [cli.json("show", job_id)["attempts"][-1]["output_bytes"] for job_id in ids]


LOGGER = """
def huge(payload, ctx):
    ctx.log("m" * 300_000, blob="d" * 300_000)
    ctx.log("after")
"""


def test_a_huge_log_line_is_cut_not_stored_whole(cli: Cli, write_config, daemons) -> None:
    (cli.home / "loud.py").write_text(LOGGER)
    write_config('[jobs.loud]\nhandler = "loud:huge"\n')
    job_id = cli.ok("add", "loud").strip()
    daemons.start("--drain")
    wait_for(lambda: cli.json("show", job_id)["state"] == "succeeded", what="succeeded")
    first, second = cli.json("show", job_id)["log"]
    message = first["message"]
    assert message.startswith("m" * 1000) and message.endswith("(300000 characters)")
    assert len(first["message"]) < 70_000 and len(str(first["data"])) < 70_000
    assert second["message"] == "after"
