"""The postgres source: client connections to the server, and how many are running a query.

One connection stays open between samples (a connection per sample would itself show up in
the count it measures, and cost a fork on the server). It is excluded from the count.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from slokit.errors import UsageError

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresError", "PostgresSource", "describe_url"]

# One pass over pg_stat_activity for both numbers. Other users' sessions show state NULL
# unless the role has pg_read_all_stats, so pg_active can only undercount, never invent.
_QUERY = """
select count(*), count(*) filter (where state = 'active')
from pg_stat_activity
where backend_type = 'client backend' and pid <> pg_backend_pid()
"""

# A sample must never hang the sampler thread: stop() joins it within interval + 2 s.
_TIMEOUT_S = 2


class PostgresError(Exception):
    """The server could not be reached or queried; ``reason`` is short enough for a note."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _params(url: str) -> dict[str, Any]:
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise UsageError(
            "resources.postgres needs psycopg: pip install 'slokit[store-postgres]'"
        ) from None
    try:
        return dict(conninfo_to_dict(url))
    except psycopg.Error as exc:
        raise UsageError(
            f"resources.postgres: {url!r} is not a libpq connection URL ({_first_line(exc)}): "
            "give postgresql://user@host:5432/dbname"
        ) from None


def describe_url(params: dict[str, Any]) -> str:
    """The URL without its password, for messages and notes."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    db = f"/{params['dbname']}" if params.get("dbname") else ""
    return f"postgresql://{user}{host}{port}{db}"


def _first_line(exc: BaseException, limit: int = 100) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _seconds(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return _TIMEOUT_S


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_first_line(exc)}"


class PostgresSource:
    """``pg_connections`` and ``pg_active`` from one long-lived autocommit connection."""

    def __init__(self, url: str) -> None:
        params = _params(url)
        self.description = describe_url(params)
        # The user's own settings win, except a longer connect timeout: see _TIMEOUT_S.
        params.setdefault("application_name", "slokit-resources")
        params["connect_timeout"] = min(_seconds(params.get("connect_timeout")), _TIMEOUT_S)
        # A server that vanishes without a reset would otherwise block a query for minutes.
        params.setdefault("tcp_user_timeout", str(_TIMEOUT_S * 1000))
        self._params = params
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def connect(self) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        self.close()
        try:
            conn = psycopg.connect(make_conninfo("", **self._params), autocommit=True)
        except psycopg.Error as exc:
            raise PostgresError(_reason(exc)) from exc
        try:
            conn.execute(f"set statement_timeout = {_TIMEOUT_S * 1000}")
        except psycopg.Error as exc:
            conn.close()
            raise PostgresError(_reason(exc)) from exc
        self._conn = conn

    def sample(self) -> dict[str, float]:
        import psycopg

        fresh = self._conn is None
        if fresh:
            self.connect()
        try:
            return self._query()
        except psycopg.Error as exc:
            self.close()
            if fresh:
                raise PostgresError(_reason(exc)) from exc
        # The kept connection broke (server restarted, idle connection killed): that alone
        # is no outage, so one new connection is tried before anything is reported.
        self.connect()
        try:
            return self._query()
        except psycopg.Error as exc:
            self.close()
            raise PostgresError(_reason(exc)) from exc

    def _query(self) -> dict[str, float]:
        assert self._conn is not None
        row = self._conn.execute(_QUERY).fetchone()
        assert row is not None  # count(*) always yields one row
        return {"pg_connections": float(row[0]), "pg_active": float(row[1])}

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken one must not end sampling
                conn.close()
