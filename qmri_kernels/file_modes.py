"""Permissions of the files the library writes: what ``open()`` would give, not ``0600``.

An atomic writer stages its output with :func:`tempfile.mkstemp`, which creates the file
readable by its owner only (mode ``0600``), then moves it into place; left as is, a shared
cohort's derivatives could be read by nobody else. :func:`publish_mode` gives such a file
the mode a plain ``open(path, "w")`` would have made — ``0o666`` less the process umask
(``0644`` under the usual umask ``022``) — so the umask of the user (or of a group-shared
project, ``002``) decides, as for every other file. Folders made with
:meth:`pathlib.Path.mkdir` already follow the umask (``0755``).
"""

from __future__ import annotations

import os

__all__ = ["current_umask", "default_file_mode", "publish_mode"]


def current_umask() -> int:
    """The process umask, read without changing it where the system allows.

    Returns
    -------
    int
        Permission bits the process masks off new files (e.g. ``0o022``).

    Notes
    -----
    Linux reports the umask in ``/proc/self/status``; elsewhere it is read with
    :func:`os.umask` and set back at once (the only portable way; not atomic across
    threads that create files in that instant).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Mode of a new regular file under the current umask (``0o666 & ~umask``).

    Returns
    -------
    int
        E.g. ``0o644`` under umask ``0o022``, ``0o664`` under ``0o002``.
    """
    return 0o666 & ~current_umask()


def publish_mode(fd: int) -> None:
    """Give a staged file (open descriptor from :func:`tempfile.mkstemp`) the default mode.

    Parameters
    ----------
    fd : int
        Open file descriptor of the staged file.
    """
    os.fchmod(fd, default_file_mode())
