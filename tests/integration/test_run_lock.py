"""One run at a time: a second `make run` refuses and touches nothing."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.run import run_lock
from tests.support.fixtures_demo import run_pipeline


def landing_listing(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Every landing file with its size and modification time."""
    return {
        str(path.relative_to(data_dir)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted((data_dir / "landing").rglob("*"))
        if path.is_file()
    }


def test_second_run_while_a_run_holds_the_lock_refuses_and_touches_nothing(
    demo_build: Path,
) -> None:
    warehouse = demo_build / "warehouse.duckdb"
    snapshot = demo_build / "snapshot" / "warehouse.duckdb"
    landing_before = landing_listing(demo_build)
    warehouse_before = warehouse.stat().st_mtime_ns
    snapshot_before = snapshot.stat().st_mtime_ns
    assert landing_before, "the demo build has no landing files"

    with run_lock(demo_build):  # this test process is "the run in progress"
        result = run_pipeline(demo_build)

    assert result.returncode != 0
    first_error = result.stderr.strip().splitlines()[0]
    assert first_error.startswith("error [lock]: another run is in progress")
    assert f"pid {os.getpid()}" in first_error
    assert "[extract]" not in result.stdout
    assert landing_listing(demo_build) == landing_before
    assert warehouse.stat().st_mtime_ns == warehouse_before
    assert snapshot.stat().st_mtime_ns == snapshot_before
