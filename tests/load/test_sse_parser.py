"""The event-stream parser against the WHATWG rules, fed in every possible split."""

from __future__ import annotations

from slokit.load import SSEEvent, SSEParser

STREAM = (
    b"\xef\xbb\xbfretry: 250\r\n"
    b": heartbeat\r\n"
    b"\r\n"
    b"event: order\r\nid: 7\r\ndata: line one\r\ndata:line two\r\n\r\n"
    b"data\n\n"  # a field with no colon: empty data, still an event
    b"id: 8\n\n"  # no data: not dispatched, but the id becomes the last event id
    b'retry: soon\rid: bad\x00id\rdata: {"seq": 9}\r\r'
    b"data: half"
)


def _all(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events, parser


def test_events_fields_and_line_endings() -> None:
    events, parser = _all([STREAM])
    assert events == [
        SSEEvent("line one\nline two", "order", "7"),
        SSEEvent("", "message", "7"),
        SSEEvent('{"seq": 9}', "message", "8"),
    ]
    assert parser.retry_ms == 250  # "soon" is not digits: ignored
    assert parser.last_id == "8"  # an id with NUL is ignored
    assert parser.comments == 1


def test_any_split_gives_the_same_events() -> None:
    whole, _ = _all([STREAM])
    for cut in range(1, len(STREAM)):
        assert _all([STREAM[:cut], STREAM[cut:]])[0] == whole, cut
    assert _all([bytes([b]) for b in STREAM])[0] == whole


def test_a_new_connection_drops_the_half_event_and_keeps_the_id() -> None:
    parser = SSEParser()
    parser.feed(b"id: 3\ndata: a\n\ndata: half")
    parser.reset_stream()
    assert parser.feed(b"data: b\n\n") == [SSEEvent("b", "message", "3")]
