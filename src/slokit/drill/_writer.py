"""The RPO probe: a writer that inserts numbered rows all through the drill, and the check
afterwards of which acknowledged rows survived.

Only a commit the server answered counts as acknowledged. A write whose answer never came (the
connection died mid-commit) is *in doubt*: it may or may not have been committed, so it is
neither lost nor safe, and it is counted on its own. That is what keeps the lost-write count
honest: every lost write is one the database told us it had kept.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HttpWriter", "RpoResult", "Write", "Writer", "ranges", "rpo_of"]

_CONNECT_TIMEOUT = 2  # seconds; a dead primary must not hold the writer up for long
_STATEMENT_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class Write:
    seq: int
    t: float
    """Seconds since the drill started when the answer came (or the attempt failed)."""
    acked: bool
    error: str | None = None
    dsn: str = ""


@dataclass
class RpoResult:
    acknowledged: int
    survived: int
    lost: list[int]
    in_doubt: int
    in_doubt_survived: int
    rpo_s: float | None
    """The span of acknowledged data lost: from the newest acknowledged write that survived
    before the first lost one to the failure (or the newest lost write, if later); 0 when no
    acknowledged write was lost; None when the survivors could not be read."""
    data_currency_t: float | None
    """When the newest acknowledged write before the loss was acknowledged (drill seconds)."""
    newest_lost_t: float | None = None
    oldest_lost_t: float | None = None
    error: str | None = None
    read_from: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7, 8]`` as ``[[1, 3], [7, 8]]``: compact enough to keep every seq."""
    out: list[list[int]] = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


def rpo_of(writes: list[Write], present: set[int], t_fail: float | None) -> RpoResult:
    """Compare what the writer was told was kept with what is there now (pure, for tests)."""
    acked = [w for w in writes if w.acked]
    doubt = [w for w in writes if not w.acked and w.error == "in doubt"]
    lost = [w for w in acked if w.seq not in present]
    result = RpoResult(
        acknowledged=len(acked),
        survived=len(acked) - len(lost),
        lost=[w.seq for w in lost],
        in_doubt=len(doubt),
        in_doubt_survived=sum(1 for w in doubt if w.seq in present),
        rpo_s=0.0,
        data_currency_t=None,
    )
    if not lost:
        kept = [w.t for w in acked if t_fail is None or w.t <= t_fail]
        result.data_currency_t = max(kept) if kept else None
        return result
    oldest = min(lost, key=lambda w: w.seq)
    newest = max(lost, key=lambda w: w.t)
    before = [w.t for w in acked if w.seq < oldest.seq and w.seq in present]
    # With no survivor before the loss, everything since the writer's first write is gone.
    currency = max(before) if before else min(w.t for w in writes)
    end = max(newest.t, t_fail) if t_fail is not None else newest.t
    result.rpo_s = round(max(end - currency, 0.0), 6)
    result.data_currency_t = currency
    result.newest_lost_t, result.oldest_lost_t = newest.t, oldest.t
    return result


class Writer:
    """Writes one row every ``interval`` in its own thread until :meth:`stop`."""

    def __init__(
        self,
        dsn: str,
        table: str,
        interval: float,
        clock: Callable[[], float],
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.table = table
        self.interval = interval
        self.clock = clock
        self.on_event = on_event
        self.run_id = uuid.uuid4().hex
        self.writes: list[Write] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="slokit-drill-writer", daemon=True)
        self._conn: Any = None
        self._failing = False

    # --- control ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the table and write the first row, so a bad DSN fails before the drill."""
        conn = self._connect(self.dsn)
        try:
            conn.execute(
                f"create table if not exists {self.table} ("
                "run text not null, seq bigint not null, written_at timestamptz not null "
                "default clock_timestamp(), primary key (run, seq))"
            )
        finally:
            conn.close()

    def start(self) -> None:
        self._thread.start()

    def repoint(self, dsn: str) -> None:
        with self._lock:
            self.dsn = dsn
            self._drop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_CONNECT_TIMEOUT + _STATEMENT_TIMEOUT_MS / 1000 + 5)
        with self._lock:
            self._drop()

    def failures_between(self, start: float, end: float) -> int:
        return sum(1 for w in list(self.writes) if not w.acked and start <= w.t <= end)

    def first_failure_after(self, t: float) -> float | None:
        return next((w.t for w in list(self.writes) if not w.acked and w.t >= t), None)

    # --- the loop -----------------------------------------------------------------------

    def _connect(self, dsn: str) -> Any:
        import psycopg

        return psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=_CONNECT_TIMEOUT,
            options=f"-c statement_timeout={_STATEMENT_TIMEOUT_MS}",
            application_name="slokit-drill-writer",
        )

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _loop(self) -> None:
        seq = 0
        next_at = self.clock()
        while not self._stop.is_set():
            seq += 1
            self._write_one(seq)
            next_at += self.interval
            # A stalled write must not be followed by a burst: skip the missed slots.
            now = self.clock()
            if next_at < now:
                next_at = now
            self._stop.wait(max(next_at - now, 0.0))

    def _write_one(self, seq: int) -> None:
        import psycopg

        with self._lock:
            dsn = self.dsn
            try:
                if self._conn is None:
                    self._conn = self._connect(dsn)
            except psycopg.Error as exc:
                self._record(Write(seq, self.clock(), False, _short(exc), dsn))
                return
            conn = self._conn
            try:
                conn.execute(
                    f"insert into {self.table} (run, seq) values (%s, %s)", (self.run_id, seq)
                )
            except psycopg.OperationalError as exc:
                # The statement may have reached the server and committed before the
                # connection broke: the outcome is unknown, so the write is in doubt.
                self._drop()
                self._record(Write(seq, self.clock(), False, "in doubt", dsn))
                del exc
                return
            except psycopg.Error as exc:
                self._drop()
                self._record(Write(seq, self.clock(), False, _short(exc), dsn))
                return
            self._record(Write(seq, self.clock(), True, None, dsn))

    def _record(self, write: Write) -> None:
        self.writes.append(write)
        if self.on_event is None:
            return
        if not write.acked and not self._failing:
            self._failing = True
            self.on_event(f"writer: write {write.seq} failed ({write.error})")
        elif write.acked and self._failing:
            self._failing = False
            self.on_event(f"writer: writes succeed again (write {write.seq})")

    # --- the check ----------------------------------------------------------------------

    def verify(self, dsn: str | None, t_fail: float | None, keep_rows: bool) -> RpoResult:
        """Read back this drill's rows from ``dsn`` (default: where the writer points)."""
        import psycopg

        where = dsn or self.dsn
        writes = list(self.writes)
        try:
            conn = self._connect(where)
        except psycopg.Error as exc:
            return _unread(writes, f"cannot connect to read the writes back: {_short(exc)}", where)
        try:
            rows = conn.execute(
                f"select seq from {self.table} where run = %s", (self.run_id,)
            ).fetchall()
            if not keep_rows:
                conn.execute(f"delete from {self.table} where run = %s", (self.run_id,))
        except psycopg.Error as exc:
            return _unread(writes, f"cannot read the writes back: {_short(exc)}", where)
        finally:
            conn.close()
        result = rpo_of(writes, {int(r[0]) for r in rows}, t_fail)
        result.read_from = where
        return result


def _unread(writes: list[Write], error: str, where: str) -> RpoResult:
    acked = sum(1 for w in writes if w.acked)
    doubt = sum(1 for w in writes if not w.acked and w.error == "in doubt")
    return RpoResult(acked, 0, [], doubt, 0, None, None, error=error, read_from=where)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class HttpWriter(Writer):
    """The RPO probe through the service itself: ``POST {"run", "seq"}`` to the write URL (a
    2xx answer is the acknowledgement); afterwards the read URL (``{run}`` filled in) answers
    the seqs it holds, as a JSON list or ``{"seqs": [...]}``."""

    def __init__(
        self,
        write_url: str,
        read_url: str,
        interval: float,
        clock: Callable[[], float],
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(write_url, "", interval, clock, on_event)
        self.read_url = read_url

    def _client(self) -> Any:
        import httpx

        if self._conn is None:
            self._conn = httpx.Client(timeout=_STATEMENT_TIMEOUT_MS / 1000)
        return self._conn

    def prepare(self) -> None:
        """One read, so a wrong URL fails before the drill."""
        found = self._read()
        if isinstance(found, str):
            raise ValueError(found)

    def _write_one(self, seq: int) -> None:
        import httpx

        with self._lock:
            url = self.dsn
            try:
                response = self._client().post(url, json={"run": self.run_id, "seq": seq})
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self._drop()
                self._record(Write(seq, self.clock(), False, _short(exc), url))
                return
            except httpx.HTTPError:
                # Sent, but no answer: the service may have kept it.
                self._drop()
                self._record(Write(seq, self.clock(), False, "in doubt", url))
                return
            ok = 200 <= response.status_code < 300
            error = None if ok else f"answered {response.status_code}"
            self._record(Write(seq, self.clock(), ok, error, url))

    def _read(self) -> set[int] | str:
        import httpx

        url = self.read_url.replace("{run}", self.run_id)
        try:
            response = httpx.get(url, timeout=10.0)
        except httpx.HTTPError as exc:
            return f"cannot read the writes back from {url}: {_short(exc)}"
        if response.status_code != 200:
            return f"{url} answered {response.status_code}, expected 200 with the seqs"
        try:
            body = response.json()
        except ValueError:
            return f'{url} did not answer JSON; expected a list of seqs or {{"seqs": [...]}}'
        seqs = body.get("seqs") if isinstance(body, dict) else body
        if not isinstance(seqs, list) or not all(isinstance(s, int) for s in seqs):
            return f'{url} answered {str(body)[:80]}; expected a list of seqs or {{"seqs": [...]}}'
        return {int(s) for s in seqs}

    def verify(self, dsn: str | None, t_fail: float | None, keep_rows: bool) -> RpoResult:
        writes = list(self.writes)
        found = self._read()
        if isinstance(found, str):
            return _unread(writes, found, self.read_url)
        result = rpo_of(writes, found, t_fail)
        result.read_from = self.read_url.replace("{run}", self.run_id)
        return result
