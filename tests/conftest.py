"""Shared fixtures: each external system's fixtures live in their own module."""

pytest_plugins = [
    "tests.support.fixtures_influx",
    "tests.support.fixtures_tibber",
    "tests.support.fixtures_demo",
    "tests.support.fixtures_pipeline",
]
