"""`make reset-processed`: empty the processed bucket and republish on the next run.

Asks for confirmation (typing `yes` on a terminal). Then it first forgets what
was published (so a reset interrupted at any point still ends with a full
republication by the next run) and deletes the published measurements from
INFLUX_BUCKET_PROCESSED: `DROP MEASUREMENT` on the 1.x API, a delete with the
predicate `_measurement="..."` over all time on the 2.x API.
Without a terminal, or without `yes`, it does nothing and says so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import duckdb

from core import influxdb
from core.errors import ConfigError, PipelineError
from core.settings import Settings, load_settings
from load.publish import MEASUREMENTS, clear_state

PROMPT = (
    "This deletes the measurements {names} from {bucket} at {url}; "
    "the next `make run` writes them again. Type yes to continue: "
)


def reset_processed(settings: Settings, warehouse: Path) -> None:
    """Forget the published state, then delete the published measurements."""
    target = influxdb.InfluxTarget.from_settings(settings)
    bucket = settings.influx_bucket_processed
    if warehouse.is_file():
        connection = duckdb.connect(str(warehouse))
        try:
            clear_state(connection)
        finally:
            connection.close()
    for measurement in MEASUREMENTS:
        influxdb.delete_measurement(target, bucket, measurement)


def confirmed(stdin: TextIO, stdout: TextIO, stderr: TextIO, prompt: str) -> bool:
    if not stdin.isatty():
        stderr.write(
            "reset-processed: no terminal to type yes on; nothing deleted "
            "(run `make reset-processed` in a terminal)\n"
        )
        return False
    stdout.write(prompt)
    stdout.flush()
    if stdin.readline().strip() != "yes":
        stderr.write("reset-processed: not confirmed; nothing deleted\n")
        return False
    return True


def main(
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    settings_loader: Callable[[], Settings] = load_settings,
) -> int:
    try:
        settings = settings_loader()
        if settings.influx_url is None:
            raise ConfigError("INFLUX_URL is not set: there is no bucket to reset")
        prompt = PROMPT.format(
            names=", ".join(MEASUREMENTS),
            bucket=settings.influx_bucket_processed,
            url=influxdb.InfluxTarget.from_settings(settings).safe_url,
        )
        if not confirmed(stdin, stdout, stderr, prompt):
            return 1
        reset_processed(settings, settings.warehouse)
    except PipelineError as error:
        stderr.write(f"reset-processed failed ({error.stage}): {error}\n")
        return 1
    stdout.write(
        f"reset-processed: {settings.influx_bucket_processed} emptied; "
        "the next run publishes every point\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
