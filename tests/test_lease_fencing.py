"""A daemon cut off from PostgreSQL stops its jobs and workers before its lease runs out.

The daemon reaches the server through a proxy process; SIGSTOP on the proxy
is a network cut: the daemon's statements hang, no error comes.  Another
host would take the daemon for dead once its heartbeat is `lease` old and
run its jobs again, so by then the daemon must have stopped them itself
(jobctl/lease_watch.py).  SIGCONT heals the cut: the daemon's heartbeat
gets through, and it runs the job again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conftest import Cli, Daemons, wait_for

from jobctl.store.postgres_db import parse_url

# A unix-socket proxy: every connection to <folder>/.s.PGSQL.5432 goes on to
# the server's socket, bytes copied both ways by two threads.
PROXY = """
import os, socket, sys, threading
listen_dir, target = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_UNIX)
server.bind(os.path.join(listen_dir, ".s.PGSQL.5432"))
server.listen(64)
def pump(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
print("ready", flush=True)
while True:
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(target)
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()
"""


def through_proxy(url: str, folder: Path) -> tuple[str, str]:
    """(the URL with the proxy's folder as its host, the server's socket path)."""
    conninfo, schema = parse_url(url)
    base, _, query = conninfo.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    target = os.path.join(params.pop("host"), ".s.PGSQL.5432")
    params["host"] = str(folder)
    params["schema"] = schema
    return base + "?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in params.items()), target


def test_a_daemon_cut_off_stops_its_job_before_the_lease_ends_then_runs_it_again(
    tmp_path: Path, pg_url: str
) -> None:
    folder = tmp_path / "proxy"
    folder.mkdir()
    proxied, target = through_proxy(pg_url, folder)
    proxy = subprocess.Popen(
        [sys.executable, "-c", PROXY, str(folder), target], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proxy.stdout is not None and proxy.stdout.readline() == "ready\n"
        cli = Cli(tmp_path, db=proxied)
        pids, worker_pids = tmp_path / "pids", tmp_path / "worker-pids"
        (tmp_path / "jobs.toml").write_text(
            'lease = "3s"\n[workers.w]\n'
            f"command = \"sh -c 'echo $$ >> {worker_pids}; exec sleep 1717.8'\"\n"
        )
        job = cli.ok("add", "--shell", f"echo $$ >> {pids}; exec sleep 1717.7").strip()
        daemons = Daemons(cli)
        daemon = daemons.start()
        try:
            wait_for(lambda: pids.exists() and pids.read_text().strip(), what="the job started")
            first = int(pids.read_text().split()[0])
            wait_for(lambda: worker_pids.exists(), what="the worker started")
            worker = int(worker_pids.read_text().split()[0])

            proxy.send_signal(signal.SIGSTOP)  # the cut: statements hang, nothing fails
            # Two thirds of the 3 s lease, then SIGTERM, and SIGKILL a second
            # later at most: gone before the lease ends, whatever the daemon's
            # coordinator is stuck in.
            wait_for(lambda: not _alive(first), timeout=10, what="the job's process stopped")
            wait_for(lambda: not _alive(worker), timeout=10, what="the worker stopped")
            assert len(worker_pids.read_text().split()) == 1  # and not started again
            assert daemon.poll() is None  # the daemon itself goes on

            proxy.send_signal(signal.SIGCONT)
            wait_for(lambda: len(pids.read_text().split()) == 2, what="the job run again")
            wait_for(lambda: len(worker_pids.read_text().split()) == 2, what="the worker again")
            # Written once the coordinator gets through: it was stuck meanwhile.
            log = daemons.log_path(0).read_text()
            assert "no heartbeat got through" in log
            assert "a heartbeat got through again" in log
            cli.ok("cancel", job)
            wait_for(lambda: cli.json("show", job)["state"] == "cancelled", what="cancelled")
            attempts = cli.json("show", job)["attempts"]
            assert attempts[0]["outcome"] == "interrupted"
        finally:
            proxy.send_signal(signal.SIGCONT)
            daemons.stop_all()
    finally:
        proxy.kill()
        proxy.wait()


def _alive(pid: int) -> bool:
    """Running, not a zombie.  The process may end between any two reads."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # ProcessLookupError or FileNotFoundError: gone
        return False


def test_a_claim_that_commits_after_the_lease_was_given_up_does_not_start(
    tmp_path: Path, pg_url: str
) -> None:
    """The daemon's claim waits (here on the queue cap's lock, held by another
    session) past two thirds of the lease, so its lease watch gives the lease
    up while nothing runs.  When the claim commits, the job must not start:
    another host may be taking this daemon for dead.  It is given back,
    unrun, and runs once a heartbeat gets through."""
    import psycopg

    from jobctl.store.postgres_db import parse_url

    conninfo, schema = parse_url(pg_url)
    holder = psycopg.connect(conninfo, autocommit=True)
    try:
        holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('jobctl claim caps ' || %s, 0))", [schema]
        )
        cli = Cli(tmp_path, db=pg_url)
        (tmp_path / "jobs.toml").write_text('lease = "3s"\n[queues.default]\nconcurrency = 2\n')
        starts = tmp_path / "starts"
        job = cli.ok("add", "--max-attempts", "2", "--shell", f"date +%s.%N >> {starts}")
        daemons = Daemons(cli)
        daemons.start()
        try:
            # The claim is stuck on the lock.  Once it has waited longer than
            # the lease, the watch has given the lease up (at two thirds).
            wait_for(
                lambda: _claim_waited(holder) > 3.5, timeout=30, what="the claim waited a lease"
            )
            holder.execute(
                "SELECT pg_advisory_unlock(hashtextextended('jobctl claim caps ' || %s, 0))",
                [schema],
            )
            wait_for(lambda: cli.json("show", job.strip())["state"] == "succeeded", what="done")
            attempts = cli.json("show", job.strip())["attempts"]
            assert [a["outcome"] for a in attempts] == ["interrupted", "succeeded"]
            assert len(starts.read_text().split()) == 1  # started once: after the heartbeat
        finally:
            daemons.stop_all()
    finally:
        holder.close()


def _claim_waited(holder: Any) -> float:
    """Seconds the daemon's claim has waited for the cap lock (0: not waiting)."""
    row = holder.execute(
        "SELECT max(extract(epoch FROM now() - query_start)) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query LIKE %s",
        ["%jobctl claim caps%"],
    ).fetchone()
    return float(row[0] or 0.0)
