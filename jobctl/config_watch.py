"""Notices when the daemon's jobs.toml changes, and loads the new one.

The daemon finds its config as every command does (--config, else
$JOBCTL_CONFIG, else ./jobs.toml, else the XDG folder), so the file it
should serve can change, appear or go.  A look is a few stat() calls: the
daemon looks every CHECK_SECONDS, at SIGHUP, and before it fails a job whose
type it does not know.
"""

from __future__ import annotations

import os
from pathlib import Path

from jobctl.config import find_config, load_config
from jobctl.errors import JobctlError
from jobctl.models import Config

CHECK_SECONDS = 2.0

# What tells one version of the file from another: its path, inode, size,
# and modification and change times (an editor that writes in place keeps
# the inode; one that renames a new file over it does not).
Signature = tuple[str, int, int, int, int] | None


class ConfigWatch:
    def __init__(self, explicit: str | None, current: Config) -> None:
        self.explicit = explicit  # --config, if given
        self.cwd = Path.cwd()
        path = Path(current.path) if current.path else None
        self.signature = _signature(path)
        self.refused: Signature | str = None  # the version last refused, to say so once

    def changed(self) -> bool:
        """Whether the file to serve is not the one last loaded."""
        return self._look()[1] != self.signature

    def load(self, force: bool = False) -> Config | None:
        """The config now on disk, if it changed (or `force`) and is valid;
        None otherwise.

        Raises JobctlError (a ConfigError naming the problems) for a
        changed file that is invalid, once per version of it (each time,
        when `force`d): the daemon logs it and keeps serving the config it
        has.
        """
        if force:
            self.signature = self.refused = ()  # matches no version
        try:
            path, signature = self._look()
        except JobctlError as exc:  # --config names a file that is gone
            return self._refuse(str(exc), exc)
        if signature == self.signature:
            return None
        try:
            config = load_config(path)
        except JobctlError as exc:
            return self._refuse(signature, exc)
        except RecursionError as exc:  # TOML nested past Python's stack
            return self._refuse(signature, JobctlError(f"{path}: nested too deep: {exc}"))
        # Read after loading: a file changed while it was read is read again.
        self.signature = signature if _signature(path) == signature else None
        self.refused = None
        return config

    def _look(self) -> tuple[Path | None, Signature]:
        path = find_config(self.explicit, self.cwd)
        return path, _signature(path)

    def _refuse(self, version: Signature | str, exc: JobctlError) -> None:
        if version == self.refused:
            return None
        self.refused = version
        raise exc


def _signature(path: Path | None) -> Signature:
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
