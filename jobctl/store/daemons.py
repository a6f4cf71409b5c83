"""Daemons and workers: registration, leases, who runs which worker."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from jobctl.store.contract import WORKER_RUNS_WITH_OUTPUT, LastRun
from jobctl.store.sql_base import SqlBase


class Daemons(SqlBase):
    def register_daemon(
        self,
        host: str,
        pid: int,
        pid_started: float | None,
        queues: list[str] | None,
        now: float,
        token: str | None = None,
    ) -> int:
        with self._writing():
            return self._insert_id(
                "register_daemon",
                {
                    "host": host,
                    "pid": pid,
                    "pid_started": pid_started,
                    "now": now,
                    "queues": json.dumps(queues) if queues else None,
                    "token": token,
                },
            )

    def heartbeat(self, daemon_id: int, now: float, lease_until: float) -> bool:
        with self._writing():
            if not self._exec("heartbeat", {"id": daemon_id, "now": now}):
                return False
            self._exec("extend_leases", {"id": daemon_id, "lease_until": lease_until})
            params = {"id": daemon_id, "lease_until": lease_until}
            self._exec("extend_worker_leases", params)
        return True

    def daemon_stopped(self, daemon_id: int, now: float) -> None:
        with self._writing():
            self._exec("daemon_stopped", {"id": daemon_id, "now": now})

    def mark_daemons_dead(
        self, daemon_ids: Iterable[int], now: float, stale_before: float | None = None
    ) -> list[int]:
        marked = []
        with self._writing():
            for daemon_id in daemon_ids:
                params = {"id": daemon_id, "now": now, "stale_before": stale_before}
                if self._exec("mark_daemon_dead", params):
                    marked.append(daemon_id)
        return marked

    def add_workers(self, autostart: dict[str, bool]) -> None:
        with self._writing():
            for name, start in autostart.items():
                self._exec("add_worker", {"name": name, "held": int(not start)})

    def worker_takeable(
        self, name: str, daemon_id: int, host: str, now: float
    ) -> tuple[int | None, LastRun] | None:
        params = {"name": name, "id": daemon_id, "now": now, "host": host}
        rows = self._all("worker_takeable", params)
        if not rows:
            return None
        owner, pid, pid_started, owner_host, token = rows[0]
        return owner, (pid, pid_started, owner_host, token)

    def take_worker(
        self,
        name: str,
        daemon_id: int,
        owner: int | None,
        host: str,
        now: float,
        lease_until: float,
    ) -> tuple[str, bool, int] | None:
        with self._writing():
            params = {
                "name": name,
                "id": daemon_id,
                "owner": owner,
                "now": now,
                "lease_until": lease_until,
                "host": host,
            }
            taken = self._all("take_worker", params)
        if not taken:
            return None
        state, held, restarts = taken[0]
        return state, bool(held), restarts

    def release_workers(self, daemon_id: int) -> None:
        with self._writing():
            self._exec("release_workers", {"id": daemon_id})

    def release_worker(self, name: str, daemon_id: int) -> None:
        with self._writing():
            self._exec("release_worker", {"name": name, "id": daemon_id})

    def worker_started(
        self, name: str, daemon_id: int, pid: int, pid_started: float | None, now: float
    ) -> int | None:
        with self._writing():
            running = self._exec(
                "worker_running",
                {
                    "name": name,
                    "pid": pid,
                    "pid_started": pid_started,
                    "now": now,
                    "daemon_id": daemon_id,
                },
            )
            if not running:
                return None
            params = {"name": name, "daemon_id": daemon_id, "pid": pid, "now": now}
            number = self._all("worker_run_started", params)[0][0]
            params = {"name": name, "number": number, "keep": WORKER_RUNS_WITH_OUTPUT}
            self._exec("forget_old_worker_output", params)
            return number

    def worker_output(self, pieces: Sequence[tuple[str, int, int, bytes]], limit: int) -> None:
        with self._writing():
            for name, number, start, data in pieces:
                params = {"name": name, "number": number, "start": start, "data": data}
                self._exec("add_worker_output", params)
                cut = start + len(data) - limit
                if cut > 0:
                    params = {"name": name, "number": number, "cut": cut}
                    self._exec("trim_worker_output", params)

    def worker_ended(
        self,
        name: str,
        daemon_id: int,
        number: int,
        exit_status: int | None,
        signal: int | None,
        now: float,
        *,
        state: str,
        restarts: int,
        held: bool,
        next_start_at: float | None,
    ) -> None:
        with self._writing():
            params = {
                "name": name,
                "number": number,
                "now": now,
                "exit_status": exit_status,
                "signal": signal,
            }
            self._exec("worker_run_ended", params)
            self._exec(
                "worker_settled",
                {
                    "name": name,
                    "state": state,
                    "restarts": restarts,
                    "last_exit": exit_status if signal is None else -signal,
                    "now": now,
                    "held": int(held),
                    "next_start_at": next_start_at,
                    "daemon_id": daemon_id,
                },
            )

    def set_worker(
        self,
        name: str,
        daemon_id: int,
        state: str,
        *,
        held: bool,
        restarts: int,
        next_start_at: float | None,
    ) -> None:
        with self._writing():
            params = {
                "daemon_id": daemon_id,
                "name": name,
                "state": state,
                "held": int(held),
                "restarts": restarts,
                "next_start_at": next_start_at,
            }
            self._exec("worker_set", params)

    def owned_workers(self, daemon_id: int) -> set[str]:
        return {r[0] for r in self._all("owned_workers", {"id": daemon_id})}

    def worker_requests(self, daemon_id: int) -> list[tuple[str, str]]:
        rows = self._all("worker_requests", {"id": daemon_id})
        if rows:
            with self._writing():
                for name, requested in rows:
                    params = {"name": name, "requested": requested}
                    self._exec("clear_worker_request", params)
        return [tuple(r) for r in rows]

    def request_worker(self, name: str, requested: str) -> bool:
        with self._writing():
            return self._exec("request_worker", {"name": name, "requested": requested}) > 0
