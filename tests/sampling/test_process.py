"""The process source against real child processes: memory, threads, files, cpu, children."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from slokit.errors import UsageError
from slokit.sampling import ResourceSample, ResourceSampler
from tests._support import stop

MB = 1 << 20

# A grandchild that holds memory until its parent goes away (its stdin closes).
GRANDCHILD = """
import sys
held = b"x" * (int(sys.argv[1]) << 20)
print("ready", flush=True)
sys.stdin.read()
"""

# A child that changes what it uses on command, one command per line, "ok" once done.
CHILD = f"""
import os, subprocess, sys, threading, time
GRANDCHILD = {GRANDCHILD!r}
held = []
park = threading.Event()
print("ready", flush=True)
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "alloc":
        held.append(b"x" * (int(args[0]) << 20))  # written, so resident
    elif cmd == "threads":
        for _ in range(int(args[0])):
            threading.Thread(target=park.wait, daemon=True).start()
    elif cmd == "files":
        held.extend(open(os.devnull) for _ in range(int(args[0])))
    elif cmd == "spawn":
        extra = sys.argv[1:2] if args[1:] == ["marked"] else []
        kid = subprocess.Popen(
            [sys.executable, "-c", GRANDCHILD, args[0], *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        kid.stdout.readline()
        held.append(kid)
        print(kid.pid, flush=True)
        continue
    elif cmd == "spin":
        start = time.process_time()
        while time.process_time() - start < float(args[0]):
            pass
    print("ok", flush=True)
"""


class Child:
    """A real child process with ``marker`` on its command line."""

    def __init__(self, marker: str = "") -> None:
        self.marker = marker or f"slokit-sampling-{uuid.uuid4().hex}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, self.marker],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._grandchildren: list[int] = []
        assert self.read_line() == "ready"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read_line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().decode().strip()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def do(self, command: str) -> str:
        self.send(command)
        answer = self.read_line()
        if command.startswith("spawn"):
            self._grandchildren.append(int(answer))
        return answer

    def stop(self) -> None:
        stop(self.proc)
        # Grandchildren end when their stdin closes with the child; make sure of it.
        kids = []
        for pid in self._grandchildren:
            with contextlib.suppress(psutil.NoSuchProcess):
                kids.append(psutil.Process(pid))
        _, alive = psutil.wait_procs(kids, timeout=5)
        for kid in alive:
            kid.kill()


@pytest.fixture
def child() -> Iterator[Child]:
    c = Child()
    try:
        yield c
    finally:
        c.stop()


def wait_sample(
    sampler: ResourceSampler,
    predicate: Callable[[ResourceSample], bool],
    *,
    after: int = 0,
    timeout: float = 10.0,
) -> ResourceSample:
    """The first sample from index ``after`` on that satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        samples = sampler.samples
        for sample in samples[after:]:
            if predicate(sample):
                return sample
        after = max(after, len(samples))
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no sample matched within {timeout} s; last: {samples[-3:]}; "
                f"notes: {sampler.notes}"
            )
        time.sleep(0.02)


def wait_note(sampler: ResourceSampler, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for note in sampler.notes:
            if text in note:
                return note
        time.sleep(0.02)
    raise AssertionError(f"no note with {text!r} within {timeout} s: {sampler.notes}")


def test_memory_threads_and_files_of_a_real_process(child: Child) -> None:
    with ResourceSampler(interval=0.1, pid=child.pid) as sampler:
        first = wait_sample(sampler, lambda s: "rss" in s.values)
        assert "cpu" not in first.values  # a rate needs two readings
        assert set(first.values) >= {"rss", "threads", "fds"}
        base = first.values

        mark = len(sampler.samples)
        child.do("alloc 64")
        grown = wait_sample(sampler, lambda s: s.values["rss"] >= base["rss"] + 60 * MB, after=mark)

        mark = len(sampler.samples)
        child.do("threads 7")
        child.do("files 20")
        done = wait_sample(
            sampler,
            lambda s: (
                s.values["threads"] >= base["threads"] + 7 and s.values["fds"] >= base["fds"] + 20
            ),
            after=mark,
        )
    assert grown.values["rss"] < base["rss"] + 200 * MB
    assert done.values["threads"] <= base["threads"] + 8
    assert done.values["fds"] <= base["fds"] + 22
    assert all("cpu" in s.values for s in sampler.samples[1:])
    assert sampler.notes == []


def test_cpu_is_a_share_of_one_core(child: Child) -> None:
    with ResourceSampler(interval=0.1, pid=child.pid) as sampler:
        wait_sample(sampler, lambda s: "cpu" in s.values)
        mark = len(sampler.samples)
        child.send("spin 1.5")  # 1.5 s of cpu time, however busy the machine is
        busy = wait_sample(sampler, lambda s: s.values.get("cpu", 0.0) >= 0.3, after=mark)
        assert child.read_line() == "ok"  # the spin is over
    assert busy.values["cpu"] <= 1.5  # one thread can keep one core busy, not more
    assert all(s.values["cpu"] >= 0.0 for s in sampler.samples[1:])


def test_children_and_grandchildren_count(child: Child) -> None:
    with ResourceSampler(interval=0.1, pid=child.pid) as sampler:
        base = wait_sample(sampler, lambda s: "rss" in s.values).values
        mark = len(sampler.samples)
        child.do("spawn 64")
        own_rss = psutil.Process(child.pid).memory_info().rss
        tree = wait_sample(
            sampler, lambda s: s.values["rss"] >= own_rss + 60 * MB, after=mark
        ).values
    assert tree["threads"] >= base["threads"] + 1
    assert tree["fds"] >= base["fds"] + 2  # the pipes to the grandchild, and its own


def test_a_root_that_exits_is_noted_once_and_sampling_goes_on(child: Child) -> None:
    with ResourceSampler(interval=0.1, pid=child.pid) as sampler:
        wait_sample(sampler, lambda s: "rss" in s.values)
        child.stop()
        note = wait_note(sampler, "exited")
        mark = len(sampler.samples)
        wait_sample(sampler, lambda s: True, after=mark + 3)  # the thread keeps its schedule
    assert note.startswith(f"resources.pid: process {child.pid} exited at ")
    assert "missing from then on" in note
    assert sampler.notes == [note]
    assert "rss" not in sampler.samples[-1].values


def test_process_matches_a_command_line_marker(child: Child) -> None:
    sampler = ResourceSampler(interval=0.1, process=child.marker)
    sampler.check()
    with sampler:
        base = wait_sample(sampler, lambda s: "rss" in s.values).values
        mark = len(sampler.samples)
        child.do("alloc 32")
        wait_sample(sampler, lambda s: s.values["rss"] >= base["rss"] + 30 * MB, after=mark)
    assert sampler.notes == []


def test_matching_children_belong_to_the_oldest_match(child: Child) -> None:
    child.do("spawn 48 marked")  # the grandchild has the marker too: part of the tree
    own_rss = psutil.Process(child.pid).memory_info().rss
    with ResourceSampler(interval=0.1, process=child.marker) as sampler:
        sample = wait_sample(sampler, lambda s: "rss" in s.values)
    assert sample.values["rss"] >= own_rss + 45 * MB
    assert sampler.notes == []


def test_unrelated_matches_pick_the_oldest_and_say_so(child: Child) -> None:
    younger = Child(child.marker)
    try:
        with ResourceSampler(interval=0.1, process=child.marker) as sampler:
            wait_sample(sampler, lambda s: "rss" in s.values)
    finally:
        younger.stop()
    [note] = sampler.notes
    assert note.startswith("resources.process: 2 unrelated processes match")
    assert f"the oldest, pid {child.pid} " in note
    assert f"also matching: pid {younger.pid} " in note


def test_the_sampler_never_matches_itself_or_its_ancestors() -> None:
    marker = f"slokit-self-{uuid.uuid4().hex}"
    code = (
        "import sys\n"
        "from slokit.errors import UsageError\n"
        "from slokit.sampling import ResourceSampler\n"
        "try:\n"
        "    ResourceSampler(process=sys.argv[1]).check()\n"
        "    print('matched')\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
    )
    # The shell is an ancestor with the marker on its command line; `; true` keeps it alive.
    done = subprocess.run(
        ["sh", "-c", '"$0" -c "$1" "$2"; true', sys.executable, code, marker],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.startswith("resources.process: no running process has"), done.stdout


def test_check_names_a_pid_that_is_not_running() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=10)
    assert not psutil.pid_exists(gone.pid)
    with pytest.raises(UsageError, match=rf"^resources\.pid: no process with pid {gone.pid} "):
        ResourceSampler(pid=gone.pid).check()


def test_check_names_a_pattern_that_matches_nothing() -> None:
    pattern = f"no-such-service-{uuid.uuid4().hex}"
    with pytest.raises(UsageError) as caught:
        ResourceSampler(process=pattern).check()
    message = str(caught.value)
    assert message.startswith(f"resources.process: no running process has {pattern!r}")
    assert "running: " in message  # a few candidates to pick from


def test_a_pattern_not_yet_running_is_looked_for_each_interval() -> None:
    marker = f"slokit-late-{uuid.uuid4().hex}"
    with ResourceSampler(interval=0.1, process=marker) as sampler:
        wait_note(sampler, "looking again every interval")
        late = Child(marker)
        try:
            wait_sample(sampler, lambda s: "rss" in s.values)
            wait_note(sampler, f"found pid {late.pid}")
        finally:
            late.stop()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pid": 1, "process": "x"}, "resources.pid and resources.process"),
        ({"pid": 0}, "resources.pid"),
        ({"pid": True}, "resources.pid"),
        ({"process": " "}, "resources.process"),
        ({"pid": 1, "interval": 0}, "resources.interval"),
        ({"pid": 1, "interval": float("nan")}, "resources.interval"),
        ({"metrics": "127.0.0.1:9/metrics"}, "resources.metrics"),
        ({"pid": 1, "series": {"pool": "db_pool"}}, "resources.series"),
        ({"metrics": "http://h/m", "series": {"rss": "x"}}, "resources.series.rss"),
        ({"metrics": "http://h/m", "series": {"t": "x"}}, "resources.series.t"),
        ({"postgres": "nonsense"}, "resources.postgres"),
        ({}, "resources"),
    ],
)
def test_wrong_arguments_name_their_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(UsageError, match=rf"^{field}[: ]"):
        ResourceSampler(**kwargs)  # type: ignore[arg-type]
