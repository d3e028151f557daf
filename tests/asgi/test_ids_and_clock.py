"""The request-id pool and the access log's timestamps: exact, unique, and fork-safe."""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slokit.asgi._logs import _Clock
from slokit.asgi._trace import POOL, new_ids

HEX = re.compile(r"[0-9a-f]+")


def _parse(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


@given(st.lists(st.floats(min_value=1e9, max_value=4e9), min_size=1, max_size=40))
def test_each_stamp_is_its_time_cut_to_the_millisecond_whatever_came_before(
    times: list[float],
) -> None:
    clock = _Clock()
    # Several lines in one millisecond and jumps across seconds, in any order: the cached
    # second and millisecond must never leak into another time's stamp.
    for t in [*times, *times[::-1], *(x + 0.0004 for x in times)]:
        stamp = clock.format(t)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
        assert 0 <= t - _parse(stamp) < 0.001 + 1e-6, (t, stamp)


def test_stamps_roll_over_seconds_and_days() -> None:
    clock = _Clock()
    base = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert clock.format(base + 0.9995) == "2026-12-31T23:59:59.999Z"
    assert clock.format(base + 1.0) == "2027-01-01T00:00:00.000Z"
    assert clock.format(base + 0.0) == "2026-12-31T23:59:59.000Z"


def test_pool_ids_are_well_formed_and_unique_across_refills() -> None:
    POOL.forget()
    drawn = [new_ids() for _ in range(3000)]  # about three refills
    traces = {trace for trace, _, _, _ in drawn}
    assert len(traces) == len(drawn)
    for trace, span, request_id, raw in drawn[:50] + drawn[-50:]:
        assert len(trace) == 32
        assert len(span) == 16
        assert HEX.fullmatch(trace + span)
        assert trace != "0" * 32
        assert span != "0" * 16
        assert request_id == span + trace[:16]
        assert raw == request_id.encode("ascii")


def test_a_forked_worker_never_hands_out_its_parents_next_ids() -> None:
    new_ids()  # the parent has a pool with ids left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the id it would give its first request, then leave
        try:
            os.write(write, new_ids()[0].encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        child = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert HEX.fullmatch(child)
    assert len(child) == 32
    parent_next = [new_ids()[0] for _ in range(1100)]  # the rest of the parent's pool and more
    assert child not in parent_next


def test_all_zero_trace_or_span_ids_are_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # W3C trace context forbids all-zero ids. Make the pool's draw land on them: in a fixed
    # draw, id 0 gets a zero trace id and id 2 a zero span id.
    raw = bytearray(random.Random(7).randbytes(1024 * 24))
    raw[0:16] = bytes(16)
    raw[2 * 24 + 16 : 3 * 24] = bytes(8)
    monkeypatch.setattr(os, "urandom", lambda n: bytes(raw[:n]))
    POOL.forget()
    drawn = [new_ids() for _ in range(1022)]  # the whole pool: two ids fewer than drawn
    POOL.forget()
    traces = [raw[k * 24 : k * 24 + 16].hex() for k in (1, *range(3, 1024))]
    assert [trace for trace, _, _, _ in drawn] == traces
    assert all(span != "0" * 16 for _, span, _, _ in drawn)
