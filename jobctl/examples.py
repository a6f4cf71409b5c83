"""Handlers for jobs.toml.example and the demo: small, and safe to run anywhere."""

from __future__ import annotations

from typing import Any


def greet(payload: Any, ctx: Any) -> dict[str, str]:
    """Say hello to payload["name"] (default "world") and return the greeting."""
    name = payload.get("name", "world") if isinstance(payload, dict) else "world"
    ctx.log("greeting", name=name)
    return {"greeting": f"hello {name}"}


def flaky(payload: Any, ctx: Any) -> str:
    """Fail the first two attempts, then succeed: shows retries."""
    if ctx.job.attempt < 3:
        raise RuntimeError(f"attempt {ctx.job.attempt} fails on purpose")
    return "third time lucky"


def noop(payload: Any, ctx: Any) -> None:
    """Do nothing: for measuring the daemon itself."""
    return None
