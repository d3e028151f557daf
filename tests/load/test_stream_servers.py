"""The stream test servers themselves, on real sockets: tests/servers/stream_app.py (SSE under
uvicorn) and tests/servers/ws_server.py (raw asyncio + wsproto WebSocket server)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests._support import UvicornApp, WsServer


@pytest.fixture(scope="module")
def sse() -> Iterator[UvicornApp]:
    server = UvicornApp("stream_app:app")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def ws() -> Iterator[WsServer]:
    server = WsServer()
    try:
        yield server
    finally:
        server.kill()


# --- SSE -----------------------------------------------------------------------------------


def raw_get(port: int, target: str, headers: str = "", limit_s: float = 5.0) -> bytes:
    """One HTTP/1.1 GET on a raw socket, everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as sock:
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n"
        sock.sendall(head.encode())
        chunks: list[bytes] = []
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def sse_body(client: httpx.Client, path: str, **headers: str) -> str:
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        return response.read().decode()


def parse_events(text: str) -> list[dict[str, str]]:
    """The WHATWG way, enough for these tests: blank lines end events, data lines join."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            if fields:
                events.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            if name == "data" and "data" in fields:
                fields["data"] += "\n" + value
            else:
                fields[name] = value
    return events


@pytest.fixture
def client(sse: UvicornApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sse.url, timeout=5) as c:
        yield c


def test_sse_ids_count_from_one_and_resume_after_last_event_id(client: httpx.Client) -> None:
    events = parse_events(sse_body(client, "/sse?n=3&interval_ms=10"))
    assert [e["id"] for e in events] == ["1", "2", "3"]
    assert [e["data"] for e in events] == ['{"seq": 1}', '{"seq": 2}', '{"seq": 3}']
    resumed = parse_events(sse_body(client, "/sse?n=2&interval_ms=10", **{"Last-Event-ID": "41"}))
    assert [e["id"] for e in resumed] == ["42", "43"]
    assert "41" in client.get("/stats").json()["last_event_ids"]


def test_sse_retry_line_first_event_names_multiline_and_crlf(client: httpx.Client) -> None:
    text = sse_body(client, "/sse?n=2&interval_ms=10&retry_ms=250&event=order&multiline=1")
    assert text.startswith("retry: 250\n\n")
    assert "\r" not in text
    events = parse_events(text)
    assert events[0] == {"retry": "250"}
    assert events[1:] == [
        {"id": "1", "event": "order", "data": "line1 of 1\nline2 of 1"},
        {"id": "2", "event": "order", "data": "line1 of 2\nline2 of 2"},
    ]
    crlf = sse_body(client, "/sse?n=1&multiline=1&crlf=1")
    assert crlf == "id: 1\r\ndata: line1 of 1\r\ndata: line2 of 1\r\n\r\n"


def test_sse_heartbeats_fill_the_wait_and_first_byte_delay_holds_the_head(
    client: httpx.Client,
) -> None:
    start = time.monotonic()
    with client.stream("GET", "/sse?n=1&first_byte_ms=300&first_event_ms=250&heartbeat_ms=50") as r:
        head_s = time.monotonic() - start
        text = r.read().decode()
    assert head_s >= 0.28
    pings = text.split("id: 1\n")[0]
    # At most 4 (250 ms of beats at least 50 ms apart, each counted from the one before, so a
    # stalled loop never bursts); at least one unless the loop stalled for the whole wait.
    assert 1 <= pings.count(": ping\n") <= 5
    assert text.endswith('id: 1\ndata: {"seq": 1}\n\n')


def test_sse_each_event_is_its_own_chunk(sse: UvicornApp) -> None:
    raw = raw_get(sse.port, "/sse?n=2&interval_ms=10")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == (
        b'18\r\nid: 1\ndata: {"seq": 1}\n\n\r\n18\r\nid: 2\ndata: {"seq": 2}\n\n\r\n0\r\n\r\n'
    )


def test_sse_drop_close_ends_cleanly_and_drop_abort_cuts_without_terminator(
    sse: UvicornApp, client: httpx.Client
) -> None:
    clean = raw_get(sse.port, "/sse?drop_after=2&interval_ms=10")
    assert clean.endswith(b"\r\n0\r\n\r\n")
    assert clean.count(b"id: ") == 2
    cut = raw_get(sse.port, "/sse?drop_after=2&drop=abort&interval_ms=10")
    assert cut.count(b"id: ") == 2
    assert cut.endswith(b'id: 2\ndata: {"seq": 2}\n\n\r\n')  # the last chunk, then nothing
    assert b"0\r\n\r\n" not in cut
    with pytest.raises(httpx.RemoteProtocolError):  # a real client sees a cut body
        sse_body(client, "/sse?drop_after=1&drop=abort&interval_ms=10")
    # n ends the stream first: a clean end even with drop=abort.
    assert raw_get(sse.port, "/sse?n=1&drop_after=5&drop=abort").endswith(b"0\r\n\r\n")


def test_sse_status_and_wrong_content_type(client: httpx.Client) -> None:
    bad = client.get("/sse?status=500")
    assert (bad.status_code, bad.text) == (500, "status 500\n")
    assert bad.headers["content-type"] == "text/plain"
    wrong = client.get("/sse?ctype=application/json")
    assert wrong.status_code == 200
    assert wrong.headers["content-type"] == "application/json"
    assert wrong.json() == {"ok": True}
    assert client.get("/json").json() == {"ok": True}
    assert client.get("/health").text == "ok"
    assert client.get("/nope").status_code == 404


def test_sse_stats_count_connections_and_events_and_reset(client: httpx.Client) -> None:
    assert client.post("/reset").text == "ok"
    assert client.get("/stats").json() == {
        "connections": 0,
        "open": 0,
        "last_event_ids": [],
        "events_sent": 0,
    }
    sse_body(client, "/sse?n=2&interval_ms=5", **{"Last-Event-ID": "7"})
    sse_body(client, "/sse?n=3&interval_ms=5", **{"Last-Event-ID": "x"})
    client.get("/sse?status=503")
    assert client.get("/stats").json() == {
        "connections": 3,
        "open": 0,
        "last_event_ids": ["7", "x"],
        "events_sent": 5,
    }


def test_sse_client_going_away_ends_the_stream(client: httpx.Client) -> None:
    with client.stream("GET", "/sse?interval_ms=20") as r:
        lines = r.iter_lines()
        assert next(lines) == "id: 1"
        assert client.get("/stats").json()["open"] >= 1
    deadline = time.monotonic() + 5
    while client.get("/stats").json()["open"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/stats").json()["open"] == 0


# --- WebSocket -----------------------------------------------------------------------------


class WsClient:
    """A blocking wsproto client over a raw socket, for poking at the server."""

    def __init__(self, port: int, target: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.conn = WSConnection(ConnectionType.CLIENT)
        self.eof = False
        self.send(Request(host=f"127.0.0.1:{port}", target=target))

    def send(self, event: Event) -> None:
        self.sock.sendall(self.conn.send(event))

    def read(
        self, until: Callable[[list[Event]], bool], limit_s: float = 5.0, answer: bool = True
    ) -> list[Event]:
        """Events until ``until(events)`` holds, EOF or ``limit_s``; Pings answered."""
        events: list[Event] = []
        deadline = time.monotonic() + limit_s
        while not self.eof and not until(events) and time.monotonic() < deadline:
            try:
                data: bytes | None = self.sock.recv(65536) or None
            except ConnectionResetError:
                data = None
            self.eof = data is None
            self.conn.receive_data(data)
            for event in self.conn.events():
                events.append(event)
                if answer and isinstance(event, Ping):
                    self.send(event.response())
        return events

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect(ws: WsServer) -> Iterator[Callable[[str], WsClient]]:
    clients: list[WsClient] = []

    def open_client(target: str) -> WsClient:
        clients.append(WsClient(ws.port, target))
        return clients[-1]

    try:
        yield open_client
    finally:
        for c in clients:
            c.close()


def wait_stats(ws: WsServer, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The server's /stats once ``ready`` holds (or after 5 s, for the assert to show)."""
    deadline = time.monotonic() + 5
    while True:
        stats: dict[str, Any] = httpx.get(ws.url + "/stats", timeout=5).json()
        if ready(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def accepted(c: WsClient) -> None:
    (event,) = c.read(lambda es: bool(es))
    assert isinstance(event, AcceptConnection)


def texts(events: list[Event]) -> list[str]:
    return [e.data for e in events if isinstance(e, TextMessage)]


def test_ws_echo_text_binary_ping_and_client_close(connect: Callable[[str], WsClient]) -> None:
    c = connect("/echo")
    accepted(c)
    c.send(TextMessage(data="hello"))
    c.send(BytesMessage(data=b"\x00\x01"))
    c.send(TextMessage(data="frag", message_finished=False))
    c.send(TextMessage(data="mented", message_finished=True))
    c.send(Ping(payload=b"hi"))
    got = c.read(lambda es: len(es) >= 4)
    assert isinstance(got[0], TextMessage)
    assert got[0].data == "hello"
    assert isinstance(got[1], BytesMessage)
    assert got[1].data == b"\x00\x01"
    assert isinstance(got[2], TextMessage)
    assert got[2].data == "fragmented"
    assert isinstance(got[3], Pong)
    assert got[3].payload == b"hi"
    c.send(CloseConnection(code=1000, reason="bye"))
    end = c.read(lambda es: False)
    assert c.eof  # the server answered the close and then closed TCP
    # The server's answer, then wsproto's own 1006 for the EOF that follows it.
    assert [e.code for e in end if isinstance(e, CloseConnection)] == [1000, 1006]


def test_ws_ticks_close_with_the_code_asked(connect: Callable[[str], WsClient]) -> None:
    c = connect("/ticks?n=3&interval_ms=10&close_code=4001")
    accepted(c)
    events = c.read(lambda es: any(isinstance(e, CloseConnection) for e in es))
    assert texts(events) == ["tick 1", "tick 2", "tick 3"]
    close = events[-1]
    assert isinstance(close, CloseConnection)
    assert close.code == 4001
    c.send(close.response())
    c.read(lambda es: False)
    assert c.eof


def test_ws_fragmented_ticks_arrive_as_three_frames(connect: Callable[[str], WsClient]) -> None:
    c = connect("/ticks?n=2&interval_ms=10&fragment=1")
    accepted(c)
    events = c.read(lambda es: any(isinstance(e, CloseConnection) for e in es))
    parts = [e for e in events if isinstance(e, TextMessage)]
    frames = [e for e in parts if e.frame_finished]
    assert [e.message_finished for e in frames] == [False, False, True] * 2
    assert "".join(e.data for e in parts) == "tick 1tick 2"


def test_ws_server_pings_are_counted_as_pongs(
    ws: WsServer, connect: Callable[[str], WsClient]
) -> None:
    before = wait_stats(ws, lambda st: True)["pongs"]
    c = connect("/ticks?n=4&interval_ms=60&ping_ms=50")
    accepted(c)
    events = c.read(lambda es: any(isinstance(e, CloseConnection) for e in es))
    pings = [e for e in events if isinstance(e, Ping)]
    assert len(pings) >= 2
    assert texts(events) == [f"tick {k}" for k in range(1, 5)]
    stats = wait_stats(ws, lambda st: st["pongs"] - before >= len(pings))
    assert stats["pongs"] - before == len(pings)


def test_ws_abort_sends_ticks_then_no_close_frame(connect: Callable[[str], WsClient]) -> None:
    c = connect("/abort?after=2&interval_ms=10")
    accepted(c)
    events = c.read(lambda es: False)
    assert c.eof
    assert texts(events) == ["tick 1", "tick 2"]
    # The only close is wsproto's own 1006 for a connection lost without a close frame.
    assert [e.code for e in events if isinstance(e, CloseConnection)] == [1006]


@pytest.mark.parametrize(("target", "status"), [("/status?code=403", 403), ("/nope", 404)])
def test_ws_handshake_refused(connect: Callable[[str], WsClient], target: str, status: int) -> None:
    c = connect(target)
    events = c.read(lambda es: any(isinstance(e, RejectData) and e.body_finished for e in es))
    reject = events[0]
    assert isinstance(reject, RejectConnection)
    assert reject.status_code == status
    body = b"".join(e.data for e in events if isinstance(e, RejectData))
    assert body == f"status {status}\n".encode()


def test_ws_stats_over_plain_http(ws: WsServer, connect: Callable[[str], WsClient]) -> None:
    assert httpx.post(ws.url + "/reset", timeout=5).text == "ok"
    wait_stats(ws, lambda st: st["open"] == 0)  # the other tests' connections are gone
    c = connect("/echo")
    accepted(c)
    c.send(TextMessage(data="one"))
    c.send(TextMessage(data="two"))
    c.read(lambda es: len(es) >= 2)
    stats = httpx.get(ws.url + "/stats", timeout=5).json()
    assert stats["connections"] == 1
    assert stats["open"] == 1
    assert stats["messages_received"] == 2
    c.send(CloseConnection(code=1001))
    c.read(lambda es: False)
    stats = wait_stats(ws, lambda st: st["open"] == 0)
    assert (stats["open"], stats["close_codes"]) == (0, [1001])
    assert httpx.get(ws.url + "/elsewhere", timeout=5).status_code == 404
