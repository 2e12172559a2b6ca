"""Shared fixtures: each external system's fixtures live in their own module."""

pytest_plugins = [
    "tests.fixtures_influx",
    "tests.fixtures_tibber",
    "tests.fixtures_demo",
    "tests.fixtures_pipeline",
]
