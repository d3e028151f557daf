"""The load engine: an HTTP/1.1 client, executors, scenarios and worker processes.

Use :func:`run_spec` (or ``slokit run``) to drive a spec's scenarios; Python journeys get a
:class:`Session`.
"""

from slokit.load._controller import LiveTick, RunOptions, run_scenario
from slokit.load._http import HttpClient, PreparedRequest, Response
from slokit.load._plan import run_spec
from slokit.load._preflight import check_spec
from slokit.load._session import Session, StreamResult
from slokit.load._sse import SSEEvent, SSEParser
from slokit.load._stream import WSMessage

__all__ = [
    "HttpClient",
    "LiveTick",
    "PreparedRequest",
    "Response",
    "RunOptions",
    "SSEEvent",
    "SSEParser",
    "Session",
    "StreamResult",
    "WSMessage",
    "check_spec",
    "run_scenario",
    "run_spec",
]
