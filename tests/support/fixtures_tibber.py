"""Fixtures for the local Tibber GraphQL server (tests/support/tibber_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.tibber_server import TibberServer


@pytest.fixture
def tibber_server() -> Iterator[TibberServer]:
    """A real HTTP GraphQL server on 127.0.0.1 with no homes yet."""
    with TibberServer() as server:
        yield server
