"""The warehouse a statement reads: built from the landing zone when it is
missing or stale, never by extracting and never by writing to InfluxDB.

Fresh means the last build saw the same models, seeds and settings
(`pipeline.rebuild`'s fingerprint), the same landing files, and an as_of on
the same local day as this statement's. Otherwise the models are built from
the landing zone as `make run` builds them (incrementally when it can).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core import landing
from core.errors import PipelineError
from core.settings import Settings
from pipeline import rebuild
from pipeline.dbt import build
from pipeline.run import check_warehouse_free, take_snapshot


class StatementError(PipelineError):
    stage = "statement"


def staleness(settings: Settings, as_of: datetime) -> str | None:
    """Why the warehouse must be built first, or None when it is fresh."""
    state = rebuild.read_state(settings)
    if state is None:
        return "no warehouse yet"
    if state.fingerprint != rebuild.fingerprint(settings, settings.dbt_project_dir):
        return "the models, seeds or settings changed"
    files = rebuild.landing_files(settings)
    if len(files) != state.landing_files or (files[-1] if files else "") != (
        state.last_landing_file
    ):
        return "the landing zone changed"
    zone = ZoneInfo(settings.timezone)
    if state.as_of.astimezone(zone).date() != as_of.astimezone(zone).date():
        return "it was built for another as_of day"
    return None


def ensure_fresh(settings: Settings, as_of: datetime) -> str:
    """Build the warehouse when needed; says what was done."""
    reason = staleness(settings, as_of)
    if reason is None:
        return "warehouse up to date"
    if not rebuild.landing_files(settings):
        raise StatementError(
            f"no landing zone in {settings.data_dir / 'landing'}: run `make run` "
            "first (`make statement` never extracts)"
        )
    check_warehouse_free(settings)
    landing.write_run_context(settings.data_dir, as_of)
    outcome = build(settings, as_of, settings.dbt_project_dir)
    take_snapshot(settings)
    return f"warehouse built ({reason}): {outcome.scope}"
