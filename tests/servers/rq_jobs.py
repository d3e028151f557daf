"""Job functions for the RQ tests, instrumented with slokit.jobs."""

from __future__ import annotations

import time

from slokit.jobs import job


@job("send-email", queue="emails")
def send_email(ms: int) -> str:
    time.sleep(ms / 1000)
    return "sent"


@job("flaky", queue="emails")
def flaky() -> None:
    raise RuntimeError("the provider said no")
