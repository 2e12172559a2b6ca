"""Tibber extract at scale: a 2-year backfill, then an hourly run.

Serves two years of hours from the local GraphQL server (tests/support/tibber_server.py)
and prints:

    tibber backfill hours=<n> requests=<r> seconds=<s>
    tibber hourly requests=<r> seconds=<s>

Run: .venv/bin/python -m bench.tibber_backfill [--years N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.settings import load_settings
from extract.tibber import extract_hours
from tests.support.tibber_server import TibberServer, hourly_series

HOUR = timedelta(hours=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=2)
    years = parser.parse_args().years
    start = datetime(2025 - years, 1, 1, tzinfo=UTC)
    end = datetime(2025, 1, 1, tzinfo=UTC)
    count = int((end - start) / HOUR)
    with TibberServer() as server, tempfile.TemporaryDirectory() as folder:
        server.homes["home-bench"] = hourly_series(start, count + 1)[:count]
        environ = {
            "TIBBER_API_TOKEN": server.token,
            "TIBBER_API_URL": server.url,
            "DATA_DIR": str(Path(folder) / "data"),
        }
        settings = load_settings(Path(folder), environ)

        began = time.perf_counter()
        backfill = extract_hours(settings, now=end)
        seconds = time.perf_counter() - began
        print(
            f"tibber backfill hours={backfill.rows_written} "
            f"requests={backfill.requests} seconds={seconds:.2f}"
        )

        # One hour later Tibber has one more hour.
        server.homes["home-bench"] = hourly_series(start, count + 1)
        began = time.perf_counter()
        hourly = extract_hours(settings, now=end + HOUR)
        seconds = time.perf_counter() - began
        print(f"tibber hourly requests={hourly.requests} seconds={seconds:.2f}")


if __name__ == "__main__":
    main()
