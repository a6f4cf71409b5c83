"""Refusing files that another local user could have written.

jobctl is often run by root or a service account on a shared host.  A
database, its `-wal` and `-shm` files or a config that another user owns
or can write, or that sits in a folder another user can write (sticky or
not: they could plant a `-wal` file SQLite would replay, or a module a
handler import would pick up), would let that user choose what jobctl
runs.  Every command checks before it reads, and says in one line how to
fix it.  Root's own files are trusted, as are the caller's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jobctl.errors import JobctlError


class UnsafeFile(JobctlError):
    """Refusing a file that another user could have written."""


def check_database(path: Path) -> None:
    """The database, its -wal and -shm files and their folder (those that exist)."""
    check_folder(path.parent, path)
    for target in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        info = _lstat(target)
        if info is None:
            continue
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeFile(
                f"refusing {target}: it is a symbolic link (give the real path of the database)"
            )
        _check_owner_and_mode(target, info)


def check_config(path: Path) -> None:
    """The config file (through a link, the file it points to) and its folder."""
    if not path.exists():
        return  # reading it says so
    check_folder(path.parent, path)
    real = path.resolve()
    if real != path.absolute():
        check_folder(real.parent, real)
    _check_owner_and_mode(real, real.stat())


def check_folder(folder: Path, for_what: Path | None = None) -> None:
    """A folder whose files only its owner (the caller, or root) can add or replace."""
    info = _stat(folder)
    if info is None:
        return
    what = f"{for_what}: it is in {folder}, " if for_what is not None else f"{folder}: it is "
    if _foreign_owner(info):
        raise UnsafeFile(
            f"refusing {what}a folder that belongs to {_user(info.st_uid)}"
            " (move it to a folder of your own)"
        )
    if _others_can_write(info):
        raise UnsafeFile(
            f"refusing {what}a folder writable by other users"
            f" (move it to a private folder, or: chmod go-w {folder})"
        )


def put_handlers_on_path(folder: str) -> None:
    """Let handlers import from `folder` (the config's), once it passes check_folder.

    It goes after the standard library and before the installed packages:
    a module there can never stand in for one of Python's own.
    """
    import sys
    import sysconfig

    check_folder(Path(folder))
    if folder in sys.path:
        return
    stdlib = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    after = [i for i, entry in enumerate(sys.path) if entry in stdlib or "lib-dynload" in entry]
    sys.path.insert(max(after) + 1 if after else len(sys.path), folder)


def _check_owner_and_mode(path: Path, info: os.stat_result) -> None:
    if _foreign_owner(info):
        raise UnsafeFile(
            f"refusing {path}: it belongs to {_user(info.st_uid)}"
            " (chown it to yourself, or run as its owner)"
        )
    if _others_can_write(info):
        raise UnsafeFile(f"refusing {path}: it is writable by other users (fix: chmod go-w {path})")


def _foreign_owner(info: os.stat_result) -> bool:
    return info.st_uid not in (os.geteuid(), 0)


def _others_can_write(info: os.stat_result) -> bool:
    if info.st_mode & stat.S_IWOTH:
        return True
    if not info.st_mode & stat.S_IWGRP:
        return False
    # Group-writable is fine where the group is the caller's alone (the
    # user-private groups of a umask 002 system); anyone else in it could write.
    import grp
    import pwd

    me = os.geteuid()
    try:
        members = set(grp.getgrgid(info.st_gid).gr_mem)
    except KeyError:
        return True
    users = pwd.getpwall()
    mine = {p.pw_name for p in users if p.pw_uid == me}
    return bool(members - mine) or any(p.pw_gid == info.st_gid and p.pw_uid != me for p in users)


def _user(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"user id {uid}"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
