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
