"""prepare(): the request bytes, built once, are exactly the request we mean."""

from __future__ import annotations

import httptools
from hypothesis import given
from hypothesis import strategies as st

from slokit.load._http import USER_AGENT, HttpClient
from slokit.load._protocol import Response, parse_head
from slokit.load._url import split_url


class _Parsed:
    def __init__(self, raw: bytes) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.url = b""
        self.body = b""
        self.complete = False
        parser = httptools.HttpRequestParser(self)
        parser.feed_data(raw)
        self.method = parser.get_method()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


def test_get_request_bytes() -> None:
    raw = HttpClient().prepare("GET", "http://example.test:8080/a/b?x=1#frag").raw
    assert raw == (
        b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.test:8080\r\n"
        + f"User-Agent: {USER_AGENT}\r\n\r\n".encode()
    )


def test_default_ports_are_left_out_of_host() -> None:
    client = HttpClient()
    assert b"Host: example.test\r\n" in client.prepare("GET", "http://example.test:80/").raw
    assert b"Host: example.test\r\n" in client.prepare("GET", "https://EXAMPLE.test/").raw
    assert b"Host: example.test:443\r\n" in client.prepare("GET", "http://example.test:443").raw


def test_post_body_and_length() -> None:
    prepared = HttpClient().prepare("POST", "http://h.test/x", {"Content-Type": "text/plain"}, "é")
    parsed = _Parsed(prepared.raw)
    assert parsed.complete
    assert parsed.body == "é".encode()
    assert (b"Content-Length", b"2") in parsed.headers
    assert prepared.idempotent is False
    assert HttpClient().prepare("DELETE", "http://h.test/x").idempotent is True


def test_empty_path_and_query_only_urls() -> None:
    assert split_url("http://h.test")[1] == "/"
    assert split_url("http://h.test?q=1")[1] == "/?q=1"
    assert split_url("HTTP://h.test/#top")[1] == "/"


def test_non_ascii_and_spaces_are_percent_encoded() -> None:
    origin, target = split_url("http://h.test/search?q=café au lait")
    assert target == "/search?q=caf%C3%A9%20au%20lait"
    assert origin.host_header == "h.test"


def test_ipv6_and_idna_hosts() -> None:
    origin, _ = split_url("http://[::1]:8080/x")
    assert origin.host == "::1"
    assert origin.host_header == "[::1]:8080"
    assert origin.label == "[::1]:8080"
    assert origin.is_ip
    idna, _ = split_url("https://bücher.example/")
    assert idna.host == "xn--bcher-kva.example"
    assert not idna.is_ip


def test_response_helpers() -> None:
    raw = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\nX-A: 1\r\n\r\n"]
    response = Response(200, None, "café".encode("latin-1"), raw_head=raw)
    assert response.text == "café"
    assert response.header("x-a") == "1"
    assert response.headers == [(b"Content-Type", b"text/plain; charset=latin-1"), (b"X-A", b"1")]
    assert Response(200, [], b'{"a": [1]}').json() == {"a": [1]}
    assert Response(200, [(b"Content-Type", b"text/plain; charset=nope")], b"ok").text == "ok"
    assert "200" in repr(response)


def test_parse_head_skips_interim_responses_and_handles_no_headers() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    assert parse_head(raw) == (204, [])
    assert parse_head(b"HTTP/1.1 200 OK\r\nA: b") is None


_names = st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True)
_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=40
).map(str.strip)
_segments = st.text(
    st.characters(codec="utf-8", exclude_characters="/?#\r\n", exclude_categories=["Cs"]),
    max_size=12,
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    segments=st.lists(_segments, max_size=4),
    # Names that differ only in case are one header in HTTP: the check below reads them by
    # lower-cased name, so keep them distinct.
    headers=st.dictionaries(_names, _values, max_size=6).filter(
        lambda d: len({k.lower() for k in d}) == len(d)
    ),
    body=st.none() | st.binary(max_size=200),
)
def test_prepared_bytes_always_parse_back(
    method: str, segments: list[str], headers: dict[str, str], body: bytes | None
) -> None:
    url = "http://h.test:81/" + "/".join(segments)
    prepared = HttpClient().prepare(method, url, headers, body)
    parsed = _Parsed(prepared.raw)
    assert parsed.complete
    assert parsed.method.decode() == method
    assert parsed.url.startswith(b"/")
    got = {name.decode().lower(): value.decode() for name, value in parsed.headers}
    assert got["host"] == "h.test:81"
    for name, value in headers.items():
        assert got[name.lower()] == value
    assert parsed.body == (body or b"")
    response_head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        name + b": " + value + b"\r\n" for name, value in parsed.headers
    )
    assert parse_head(response_head + b"\r\n") == (200, parsed.headers)
