"""One poison job fails alone, with a clear error, and the daemon goes on
(issue 13, item 4, in part): what it stored can be read back and shown."""

from __future__ import annotations

from conftest import Cli, Daemons, states

import jobctl

HANDLERS = """
def surrogates(payload, ctx):
    ctx.log("a lone \\udc80 surrogate", extra="\\ud800")
    raise ValueError("and another \\ud800")
"""


def test_poison_jobs_fail_alone_and_the_daemon_goes_on(
    cli: Cli, write_config, daemons: Daemons
) -> None:
    (cli.home / "tasks.py").write_text(HANDLERS)
    write_config('[jobs.surrogates]\nhandler = "tasks:surrogates"\nmax_attempts = 1\n')
    queue = jobctl.connect(cli.db, cli.home / "jobs.toml")
    try:
        nul = queue.add(command=["echo", "a\0b"], max_attempts=1).id  # the API lets it by
    finally:
        queue.close()
    handler = int(cli.ok("add", "surrogates").strip())
    bystander = int(cli.ok("add", "--", "true").strip())
    assert daemons.start("--drain").wait(timeout=60) == 0
    assert states(cli) == {"failed": 2, "succeeded": 1}
    assert cli.json("show", str(bystander))["state"] == "succeeded"
    shown = cli.json("show", str(nul))
    assert shown["state"] == "failed" and "null" in shown["error"].lower()
    shown = cli.json("show", str(handler))
    assert shown["state"] == "failed" and "\\udc80" in shown["log"][0]["message"]
    assert "another" in shown["error"]
    assert "ValueError" in cli.ok("logs", str(handler))  # the traceback, escaped
    log = daemons.log_path(0).read_text()
    assert "internal error" not in log and "Traceback" not in log


def test_a_stored_payload_too_deep_to_decode_fails_alone(cli: Cli, daemons: Daemons) -> None:
    """A row an older jobctl let in (985 levels deep) killed every daemon start."""
    poison = int(cli.ok("add", "--", "true").strip())
    bystander = int(cli.ok("add", "--", "true").strip())
    store = cli.store()
    try:
        deep = "[" * 5000 + "]" * 5000
        store.conn.execute("UPDATE jobs SET payload = ? WHERE id = ?", (deep, poison))
    finally:
        store.close()
    assert daemons.start("--drain").wait(timeout=60) == 0
    assert states(cli) == {"failed": 1, "succeeded": 1}
    store = cli.store()
    try:
        sql = "SELECT error, state FROM jobs WHERE id = ?"
        error, _ = store.conn.execute(sql, (poison,)).fetchall()[0]
        _, state = store.conn.execute(sql, (bystander,)).fetchall()[0]
    finally:
        store.close()
    assert "cannot be read" in error and state == "succeeded"
