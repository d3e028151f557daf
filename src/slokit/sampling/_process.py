"""The process source: rss, cpu, fds and threads of one process and all its descendants.

Values are sums over the tree, read with psutil. ``cpu`` comes from per-process ``cpu_times``
deltas between two samples, so it needs no global state (``cpu_percent`` keeps one per
``Process`` object, and the tree gets new objects every sample).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = [
    "Match",
    "ProcessGone",
    "ProcessTree",
    "describe_candidates",
    "find_process",
    "label",
    "open_pid",
]

_Key = tuple[int, float]
"""A process is its pid *and* its start time: pids are reused."""

_HAS_FDS = hasattr(psutil.Process, "num_fds")


class ProcessGone(Exception):
    """The root process exited (or became a zombie): this source is done for good."""


@dataclass(frozen=True)
class Match:
    """The process ``find_process`` picked, and a note when the choice was not obvious."""

    process: psutil.Process
    note: str | None


def _key(proc: psutil.Process) -> _Key:
    return proc.pid, proc.create_time()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def open_pid(pid: int) -> psutil.Process:
    """The running process ``pid``; ``ProcessGone`` when there is none."""
    try:
        proc = psutil.Process(pid)
    except psutil.Error as exc:
        raise ProcessGone(f"no process with pid {pid} is running") from exc
    if not _alive(proc):
        raise ProcessGone(f"process {pid} has exited (a zombie waiting for its parent)")
    return proc


def _own_line() -> set[int]:
    """This process and its ancestors: ``slokit run --process slokit`` must not find itself."""
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents())}


def label(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        cmd = "?"
    if len(cmd) > 80:
        cmd = cmd[:77] + "..."
    return f"pid {proc.pid} ({cmd})"


def find_process(pattern: str) -> Match | None:
    """The oldest process whose name or command line contains ``pattern``, or None.

    Matches that descend from another match (a shell and the server it started, a master and
    its workers) are part of that match's tree, not rivals; only unrelated matches are
    reported in the note.
    """
    excluded = _own_line()
    found: dict[int, psutil.Process] = {}
    parent_of: dict[int, int] = {}
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        info = proc.info
        parent_of[proc.pid] = info.get("ppid") or 0
        if proc.pid in excluded:
            continue
        name = info.get("name") or ""
        cmdline = info.get("cmdline") or []  # None when access is denied: the name still counts
        if pattern in name or pattern in " ".join(cmdline):
            found[proc.pid] = proc

    def nested(pid: int) -> bool:
        seen: set[int] = set()
        parent = parent_of.get(pid, 0)
        while parent and parent not in seen:
            if parent in found:
                return True
            seen.add(parent)
            parent = parent_of.get(parent, 0)
        return False

    tops: list[tuple[float, int, psutil.Process]] = []
    for pid, proc in found.items():
        if nested(pid):
            continue
        try:
            tops.append((proc.create_time(), pid, proc))
        except psutil.Error:
            continue  # exited while we looked
    if not tops:
        return None
    tops.sort(key=lambda item: (item[0], item[1]))
    chosen = tops[0][2]
    note = None
    if len(tops) > 1:
        others = ", ".join(label(p) for _, _, p in tops[1:4])
        more = f" and {len(tops) - 4} more" if len(tops) > 4 else ""
        note = (
            f"resources.process: {len(tops)} unrelated processes match {pattern!r}; sampling "
            f"the oldest, {label(chosen)}, with its children (also matching: {others}{more}); "
            "give resources.pid or a more specific pattern to pick another"
        )
    return Match(chosen, note)


def describe_candidates(pattern: str, limit: int = 8) -> str:
    """A few process names to help fix a pattern that matched nothing: close ones first, then
    the newest (a service under test was likely started recently)."""
    excluded = _own_line()
    user = _user()
    seen: list[tuple[bool, float, str]] = []
    for proc in psutil.process_iter(["name", "cmdline", "username", "create_time"]):
        info = proc.info
        # Kernel threads have no command line and are never a service under test.
        if proc.pid in excluded or not info.get("cmdline") or not info.get("name"):
            continue
        seen.append((info.get("username") != user, -(info.get("create_time") or 0.0), info["name"]))
    names = list(dict.fromkeys(name for _, _, name in sorted(seen)))
    close = difflib.get_close_matches(pattern, names, n=limit, cutoff=0.5)
    if close:
        return "similar names running: " + ", ".join(close)
    if not names:
        return "no other processes are visible to this user"
    more = ", ..." if len(names) > limit else ""
    return "newest running: " + ", ".join(names[:limit]) + more


def _user() -> str | None:
    try:
        return psutil.Process().username()
    except psutil.Error:
        return None


class ProcessTree:
    """Samples one root process and every descendant alive at sample time."""

    def __init__(self, root: psutil.Process, clock: Callable[[], float]) -> None:
        self.root = root
        self._clock = clock
        self._cpu: dict[_Key, float] = {}
        self._last: float | None = None
        self._last_wall = 0.0

    def sample(self) -> dict[str, float]:
        """Summed values; raises ``ProcessGone`` once the root has exited."""
        if not _alive(self.root):
            raise ProcessGone(f"process {self.root.pid} exited")
        # Taken before listing the tree: a child born after this instant is in no earlier
        # sample, so all of its cpu time belongs to the next interval.
        wall = time.time()
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess as exc:
            raise ProcessGone(f"process {self.root.pid} exited") from exc
        now = self._clock()
        rss = fds = threads = 0
        cpu_spent = 0.0
        cpu: dict[_Key, float] = {}
        for proc in tree:
            try:
                with proc.oneshot():
                    key = _key(proc)
                    mem = proc.memory_info().rss
                    times = proc.cpu_times()
                    nthreads = proc.num_threads()
                    nfds = proc.num_fds() if _HAS_FDS else 0
            except psutil.Error:
                if proc is self.root:
                    if not _alive(self.root):
                        raise ProcessGone(f"process {self.root.pid} exited") from None
                    raise  # alive but unreadable: the caller reports it
                # A descendant that exited between children() and here is no longer part of
                # the tree; a half-read one would skew every sum.
                continue
            rss += mem
            threads += nthreads
            fds += nfds
            total = times.user + times.system
            cpu[key] = total
            before = self._cpu.get(key)
            if before is not None:
                cpu_spent += max(0.0, total - before)
            elif self._last is not None and key[1] >= self._last_wall:
                # Born since the previous sample, so all its cpu time is in this interval.
                # (create_time is wall-clock time with one clock tick of resolution.)
                cpu_spent += total
        values: dict[str, float] = {"rss": float(rss), "threads": float(threads)}
        if _HAS_FDS:
            values["fds"] = float(fds)
        if self._last is not None and now > self._last:
            values["cpu"] = cpu_spent / (now - self._last)
        self._cpu = cpu
        self._last = now
        self._last_wall = wall
        return values
