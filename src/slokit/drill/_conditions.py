"""Checking one condition once: an HTTP answer, a SQL value, a TCP connect, a command's exit.

Each check is bounded by its timeout and returns ``(ok, what was seen)``; nothing here raises
for a failed check, since a failing condition is what a drill is there to see.
"""

from __future__ import annotations

import socket
from typing import Any

from slokit.drill._model import Condition, Drill, HttpCall, SqlCheck
from slokit.drill._process import run_shell

__all__ = ["check", "http_call", "sql_value"]


def check(condition: Condition, drill: Drill, timeout: float) -> tuple[bool, str]:
    if condition.http is not None:
        return http_call(condition.http, drill, timeout)
    if condition.sql is not None:
        return _sql(condition.sql, timeout)
    if condition.tcp is not None:
        return _tcp(condition.tcp, timeout)
    assert condition.command is not None
    return _command(condition.command, timeout, drill.base_dir)


def http_call(call: HttpCall, drill: Drill, timeout: float | None = None) -> tuple[bool, str]:
    import httpx

    url = drill.url(call.url)
    limit = min(call.timeout, timeout) if timeout is not None else call.timeout
    try:
        response = httpx.request(
            call.method,
            url,
            headers=call.headers,
            json=call.json_body,
            timeout=limit,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return False, f"{call.method} {url}: {type(exc).__name__}: {exc}"[:300]
    seen = f"{call.method} {url} answered {response.status_code}"
    if response.status_code != call.status:
        return False, f"{seen}, expected {call.status}"
    if call.contains is not None and call.contains not in response.text:
        return False, f"{seen} without {call.contains!r} in the body"
    return True, seen


def sql_value(dsn: str, query: str, timeout: float) -> Any:
    """The first column of the first row (None for no row); raises psycopg.Error."""
    import psycopg

    with psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=max(1, round(timeout)),
        options=f"-c statement_timeout={max(1, int(timeout * 1000))}",
        application_name="slokit-drill",
    ) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[call-overload,unused-ignore]
    return None if row is None else row[0]


def _same(value: Any, expect: Any) -> bool:
    if isinstance(value, bool) or isinstance(expect, bool):
        truth = {"true": True, "t": True, "false": False, "f": False}
        left = truth.get(str(value).lower(), value) if not isinstance(value, bool) else value
        right = truth.get(str(expect).lower(), expect) if not isinstance(expect, bool) else expect
        return bool(left == right)
    return str(value) == str(expect)


def _sql(sql: SqlCheck, timeout: float) -> tuple[bool, str]:
    import psycopg

    try:
        value = sql_value(sql.dsn, sql.query, timeout)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        return False, f"{sql.query!r}: {first[0] if first else type(exc).__name__}"[:300]
    seen = f"{sql.query!r} returned {value!r}"
    if sql.expect is not None and not _same(value, sql.expect):
        return False, f"{seen}, expected {sql.expect!r}"
    return True, seen


def _tcp(address: str, timeout: float) -> tuple[bool, str]:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True, f"{address} accepted a connection"
    except OSError as exc:
        return False, f"{address}: {exc.strerror or exc}"


def _command(command: str, timeout: float, cwd: str) -> tuple[bool, str]:
    done = run_shell(command, timeout, cwd)
    if done.code is None:
        return False, f"{command!r} did not finish within {timeout:g}s"
    if done.code != 0:
        tail = done.output.strip().splitlines()[-1:] or [""]
        return False, f"{command!r} exited {done.code} {tail[0]}"[:300]
    return True, f"{command!r} exited 0"
