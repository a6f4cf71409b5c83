"""Processes by pid: is it still the one we started, and stopping its group.

A pid alone can be reused, so a recorded process is (pid, start time), the
start time read from /proc; the daemon, recovery and the supervisor all
need that.  Linux only, like the rest of the daemon.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start_time(pid: int) -> float | None:
    """When `pid` started (clock ticks since boot), to tell a reused pid."""
    fields = _stat_fields(pid)
    try:
        return float(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, started: float | None) -> bool:
    """Whether `pid` still runs and is the process that started at `started`.

    A zombie counts as dead: a kill -9'd daemon stays one until its parent
    reaps it, and it will never heartbeat again.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc: the signal check is all there is
    if fields[0] == b"Z":
        return False
    return started is None or float(fields[19]) == started


def signal_group(pgid: int, sig: int) -> None:
    """Signal a process group that may be gone already (or never was ours to signal)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# -- finding a dead daemon's processes without their pids ----------------------
#
# A daemon records each command's pid a few milliseconds after starting it;
# a kill -9 in between would leave a process nobody can find.  So every
# process a daemon starts carries the daemon's run token in its environment
# (RUN_ENV), set before the fork, and the token is committed with the
# daemon's registration before it starts anything.  Recovery on this host
# finds the processes by the token, whatever was or was not recorded.
#
# The one instant a child does not show the token is between fork and exec,
# while it still runs the daemon's own code with the daemon's environment.
# Such a child still holds the daemon's run mark: an abstract unix socket
# named after the token, close-on-exec, which the kernel releases only when
# the last process holding it has exec'd or exited.  Recovery looks for the
# token only once the mark is free.

RUN_ENV = "JOBCTL_RUN"
WORKER_ENV = "JOBCTL_WORKER"


def new_run_token() -> str:
    import secrets

    return secrets.token_hex(16)


def _mark_address(token: str) -> str:
    return "\0jobctl-run-" + token  # the abstract namespace: no file, gone with its holders


class RunMark:
    """Held by a daemon for its lifetime, and by its children until they exec."""

    def __init__(self, token: str) -> None:
        import socket

        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec
        self._socket.bind(_mark_address(token))

    def close(self) -> None:
        self._socket.close()


def mark_held(token: str) -> bool:
    """Whether a process holds the run mark of `token`: its daemon, or a child before exec."""
    import socket

    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.bind(_mark_address(token))
    except OSError:
        return True
    finally:
        probe.close()
    return False


def tagged_processes(token: str, worker: str | None = None, every: bool = False) -> list[int]:
    """Pids of the processes whose environment holds the run token.

    With `worker`, only that worker's processes; without, only job
    processes (a worker's carry WORKER_ENV); with `every`, all of them.  A
    process inside execve shows an empty environment for a moment, so an
    empty one is read again.
    """
    run = f"{RUN_ENV}={token}".encode()
    role = f"{WORKER_ENV}={worker}".encode() if worker is not None else None
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        entries = _environment(int(name))
        if run not in entries:
            continue
        is_worker = any(e.startswith(WORKER_ENV.encode() + b"=") for e in entries)
        if every or ((role in entries) if role is not None else not is_worker):
            found.append(int(name))
    return found


def tokens_running() -> set[str]:
    """The run tokens that some process (a job's or a worker's) carries now: one
    look at every process, for a daemon starting on a host where others died."""
    prefix = f"{RUN_ENV}=".encode()
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            for entry in _environment(int(name)):
                if entry.startswith(prefix):
                    found.add(entry[len(prefix) :].decode(errors="replace"))
    return found


def _environment(pid: int) -> list[bytes]:
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                text = file.read()
        except OSError:
            return []  # gone, or not ours to read
        if text:
            return text.split(b"\0")
        fields = _stat_fields(pid)
        if fields is None or fields[0] == b"Z" or int(fields[6]) & _PF_KTHREAD:
            return []
        time.sleep(0.001)
    return []


_PF_KTHREAD = 0x00200000  # /proc/PID/stat flags: a kernel thread, which has no environment


def stop_tagged(
    token: str, worker: str | None = None, grace: float = 0.0, every: bool = False
) -> dict[int, int]:
    """Stop every process tagged with `token` (see tagged_processes), with its group.

    SIGTERM first when `grace` is given, SIGKILL after it; the scan is
    repeated until it finds nothing, so a child forked meanwhile goes too.
    Returns the pids found, each with its process group.
    """
    stopped: dict[int, int] = {}
    deadline = time.monotonic() + grace
    sig = signal.SIGTERM if grace > 0 else signal.SIGKILL
    for _ in range(1000):  # bounded: a fork bomb must not hold recovery for ever
        pids = tagged_processes(token, worker, every)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                stopped.setdefault(pid, group)
                if group != os.getpgrp():  # a daemon started by a job shares it: not ours to kill
                    signal_group(group, sig)
                os.kill(pid, sig)
        if sig == signal.SIGTERM:
            if time.monotonic() >= deadline:
                sig = signal.SIGKILL
            else:
                time.sleep(0.05)
        else:
            time.sleep(0.001)  # let the kernel finish the kills before looking again
    return stopped
