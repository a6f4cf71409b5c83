"""Dead daemons: telling that one is gone, and stopping what it left running here.

A daemon killed with -9 leaves its jobs' processes running in their own
process groups; run again, a job would run twice at once.  Before its jobs
are given back, the recovering daemon stops them: the process groups whose
pids were recorded (pid and start time, since pids are reused), and every
process that carries the dead daemon's run token, recorded or not (see
processes.py).  Both only on this host: elsewhere the old daemon, once it
runs again, finds it was declared dead and stops its own.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence

from jobctl.processes import mark_held, pid_alive, signal_group, stop_tagged, tokens_running
from jobctl.store import Store


def mark_the_dead(store: Store, own_id: int, host: str, lease: float, now: float) -> None:
    """Declare dead the daemons not known to have stopped that are gone.

    On this host the pid tells; a daemon merely paused (SIGSTOP, a suspended
    laptop) past its lease is alive and keeps its jobs.  Elsewhere only its
    heartbeat's age can, and that is checked again as the daemon is marked:
    a heartbeat committed since this look keeps it alive.
    """
    gone_here, silent = [], []
    for daemon_id, daemon_host, pid, pid_started, heartbeat_at in store.other_daemons(own_id):
        if daemon_host == host:
            if not pid_alive(pid, pid_started):
                gone_here.append(daemon_id)
        elif now - heartbeat_at > lease:
            silent.append(daemon_id)
    if gone_here:
        store.mark_daemons_dead(gone_here, now)
    if silent:
        store.mark_daemons_dead(silent, now, stale_before=now - lease)


def stop_leftovers(
    store: Store,
    host: str,
    own_token: str,
    attempts: Sequence[tuple[int, int]],
    log: Callable[[str], None],
) -> set[int]:
    """Kill what these orphaned attempts may still run on this host.

    Returns the jobs whose processes cannot be told yet: their daemon's run
    mark is still held (by a child of it before exec, or by the daemon
    itself, alive on this host though another host declared it dead); they
    are left for a later recovery.
    """
    tokens: dict[str, list[int]] = {}
    recorded = set()
    for job_id, pid, pid_started, daemon_host, token in store.orphaned_processes(attempts):
        if daemon_host != host:
            continue
        recorded.add(pid)
        if pid is not None and pid_started is not None and pid_alive(pid, pid_started):
            signal_group(pid, signal.SIGKILL)
            log(f"job {job_id}: killed process group {pid} its dead daemon left")
        if token and token != own_token:
            tokens.setdefault(token, []).append(job_id)
    not_yet: set[int] = set()
    for token, job_ids in sorted(tokens.items()):
        if mark_held(token):
            not_yet.update(job_ids)
            continue
        for pid, group in stop_tagged(token).items():
            if group not in recorded:  # not one of those just killed, still on its way out
                log(f"killed process {pid} a dead daemon's job left (found by its run token)")
    return not_yet


def stop_what_the_dead_left(
    store: Store, host: str, own_token: str, log: Callable[[str], None]
) -> None:
    """At a daemon's start: stop every process, a job's or a worker's, that a
    dead registration on this host left, whoever runs its jobs now.

    stop_leftovers only looks at the attempts still open.  A daemon on
    another host that took this host's dead daemon for dead has already
    ended those and runs the jobs again, while the dead daemon's processes
    may still run here: nothing else would ever stop them.  One look at
    every process finds the run tokens in use; those of this host's dead
    registrations whose mark nobody holds go.
    """
    found = tokens_running() - {own_token}
    if not found:
        return
    for token in sorted(found & store.dead_tokens(host)):
        if mark_held(token):  # its daemon lives (stopped, say): it stops its own
            continue
        for pid in stop_tagged(token, every=True):
            log(f"killed process {pid} a dead daemon left (found by its run token)")
