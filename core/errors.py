"""One exception type per failure the user can act on.

Every message says what is wrong and what to do, and never contains a secret.
"""


class PipelineError(Exception):
    """A failure the user can act on; `stage` names where it happened."""

    stage = "pipeline"


class ConfigError(PipelineError):
    stage = "settings"


class LandingError(PipelineError):
    stage = "landing"


class InfluxError(PipelineError):
    stage = "influxdb"


class TibberError(PipelineError):
    stage = "tibber"


class DbtError(PipelineError):
    stage = "dbt"


class LockedError(PipelineError):
    stage = "lock"


DISK_FULL = (
    "the disk is full (No space left on device): free space on the disk "
    "holding DATA_DIR and run again; the next run completes the work"
)


def is_disk_full(text: str) -> bool:
    """An error message (ours, DuckDB's, dbt's) that says the disk is full."""
    lowered = text.lower()
    return any(
        sign in lowered
        for sign in ("no space left on device", "errno 28", "disk is full")
    )
