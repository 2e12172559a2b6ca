"""How fast readings are extracted from InfluxDB 1.x (prints numbers; not a test).

    .venv/bin/python -m bench.extract_throughput [--meters 50] [--readings 10000]

Starts a private influxd (the test suite's `start_influxd`), writes
meters x readings points in Home Assistant's schema (hourly readings, a third
of the meters in m³, the rest in kWh), then times one full `extract_readings`
into an empty landing zone and prints as its last line:

    extract points=<n> seconds=<s> points_per_s=<r>
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from core.settings import load_settings
from extract.influx import extract_readings
from tests.support.fixtures_influx import InfluxServer, start_influxd

START_S = 1_600_000_000
WRITE_BATCH = 50_000


def meter_units(meters: int) -> dict[str, str]:
    return {f"meter_{m:05d}": ("m³" if m % 3 == 0 else "kWh") for m in range(meters)}


def write_readings(server: InfluxServer, db: str, units: dict[str, str], n: int) -> int:
    server.query(f'CREATE DATABASE "{db}"')
    batch: list[str] = []
    written = 0
    for index, (meter_id, unit) in enumerate(units.items()):
        for k in range(n):
            value = 1000.0 * index + 0.25 * k
            batch.append(
                f"{unit},domain=input_number,entity_id={meter_id} "
                f"value={value} {START_S + 3600 * k}"
            )
            if len(batch) >= WRITE_BATCH:
                server.write(db, "\n".join(batch))
                written += len(batch)
                batch = []
    if batch:
        server.write(db, "\n".join(batch))
        written += len(batch)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--readings", type=int, default=10_000, help="per meter")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-extract-") as temp:
        root = Path(temp)
        server = start_influxd(root / "influxd")
        try:
            units = meter_units(args.meters)
            written = write_readings(server, "bench", units, args.readings)
            settings = load_settings(
                root=root,
                environ={
                    "INFLUX_URL": server.url,
                    "INFLUX_API_VERSION": "1",
                    "INFLUX_BUCKET_RAW": "bench",
                    "DATA_DIR": str(root / "data"),
                },
            )
            began = time.perf_counter()
            result = extract_readings(settings, units)
            seconds = time.perf_counter() - began
        finally:
            server.stop()
    assert result.points_read == written, (result.points_read, written)
    print(
        f"extract points={result.points_read} seconds={seconds:.2f} "
        f"points_per_s={result.points_read / seconds:.0f}"
    )


if __name__ == "__main__":
    main()
