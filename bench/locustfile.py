"""Locust's fastest client, no wait between requests: the peer the throughput leg compares with."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class Root(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")
