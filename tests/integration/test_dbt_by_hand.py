"""`make dbt ARGS=...` (python -m pipeline dbt): dbt's own commands with the
settings a run gives them, and one line when dbt cannot start."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.fixtures_pipeline import error_lines, pipeline_command, run_pipeline


def dbt_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INFLUX_", "TIBBER_", "DBT_", "METER_"))
    }
    return env | {"DATA_DIR": str(data_dir), "NOTIFY_URLS": ""}


def test_dbt_debug_checks_the_warehouse_connection(tmp_path: Path) -> None:
    """`dbt debug` takes no --target-path: the command leaves it out."""
    result = run_pipeline(
        dbt_env(tmp_path / "data"), command=pipeline_command("dbt", "debug")
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed!" in result.stdout


def test_an_option_dbt_does_not_know_gets_one_line(tmp_path: Path) -> None:
    result = run_pipeline(
        dbt_env(tmp_path / "data"),
        command=pipeline_command("dbt", "build", "--no-such-option"),
    )

    assert result.returncode == 1
    assert error_lines(result) == [
        "error [dbt]: dbt could not run: No such option '--no-such-option'."
    ]
