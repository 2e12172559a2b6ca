"""One demo build for the session: `python -m pipeline run` in demo mode.

The run is a real subprocess, as `make run` starts it, with AS_OF fixed and
every external system switched off. An empty INFLUX_URL or TIBBER_API_TOKEN
in the real environment wins over `.env` and `secrets/*.env`, so a developer's
own secrets never turn a test run into a real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_AS_OF = "2026-11-27T10:00:00Z"
SWITCHED_OFF = ("INFLUX_URL", "INFLUX_TOKEN", "TIBBER_API_TOKEN", "NOTIFY_URLS")


def demo_environment(data_dir: Path, as_of: str = DEMO_AS_OF) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INFLUX_", "TIBBER_", "DBT_"))
    }
    env.update({key: "" for key in SWITCHED_OFF})
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "AS_OF": as_of,
            "METER_TIMEZONE": "Europe/Berlin",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def pipeline_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def run_pipeline(
    data_dir: Path, *args: str, as_of: str = DEMO_AS_OF
) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline <args>` (default: run) against data_dir."""
    return subprocess.run(
        pipeline_command(*(args or ("run",))),
        cwd=ROOT,
        env=demo_environment(data_dir, as_of),
        capture_output=True,
        text=True,
        check=False,
    )


def start_pipeline(
    data_dir: Path, *args: str, as_of: str = DEMO_AS_OF, **popen: object
) -> subprocess.Popen:
    """`python -m pipeline <args>` started in the background (text pipes)."""
    options: dict[str, object] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
    }
    options.update(popen)
    return subprocess.Popen(
        pipeline_command(*args),
        cwd=ROOT,
        env=demo_environment(data_dir, as_of),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_DIR after one successful demo run (warehouse and snapshot).
    Shared: tests that run the pipeline again use `demo_data_dir`."""
    data_dir = tmp_path_factory.mktemp("demo-build")
    result = run_pipeline(data_dir)
    assert result.returncode == 0, f"demo run failed:\n{result.stdout}{result.stderr}"
    return data_dir


@pytest.fixture
def demo_data_dir(demo_build: Path, tmp_path: Path) -> Path:
    """A private copy of the demo build, for tests that change it."""
    copy = tmp_path / "data"
    shutil.copytree(demo_build, copy, ignore=shutil.ignore_patterns("run.lock"))
    return copy
