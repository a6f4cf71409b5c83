"""`jobctl tui`: the Textual dashboard.  Only this package imports textual."""

from __future__ import annotations

from jobctl.tui.app import JobctlApp

__all__ = ["JobctlApp"]
