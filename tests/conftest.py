"""Shared fixtures: real servers on loopback, started and always stopped by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._pg import throwaway_database
from tests._support import UvicornApp


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A URL to a fresh PostgreSQL database that lives as long as the test session."""
    yield from throwaway_database()


@pytest.fixture
def app_server() -> Iterator[UvicornApp]:
    server = UvicornApp()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def shared_app() -> Iterator[UvicornApp]:
    """One app for a module's read-only tests (nothing kills it)."""
    server = UvicornApp()
    try:
        yield server
    finally:
        server.kill()
