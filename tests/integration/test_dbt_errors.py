"""dbt's failures in one line that names the cause: `make dbt ARGS=...`
(python -m pipeline dbt, dbt's own commands with the settings a run gives
them) when dbt cannot start, and a run's build when dbt cannot parse."""

from __future__ import annotations

from pathlib import Path

from tests.support.fixtures_demo import demo_environment
from tests.support.fixtures_pipeline import (
    error_lines,
    failed_small_house_build,
    pipeline_command,
    run_pipeline,
)


def test_dbt_debug_checks_the_warehouse_connection(tmp_path: Path) -> None:
    """`dbt debug` takes no --target-path: the command leaves it out
    (--connection: only the warehouse, not dbt's check for git)."""
    result = run_pipeline(
        demo_environment(tmp_path / "data"),
        command=pipeline_command("dbt", "debug", "--connection"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK connection ok" in result.stdout
    assert "All checks passed!" in result.stdout


def test_an_option_dbt_does_not_know_gets_one_line(tmp_path: Path) -> None:
    result = run_pipeline(
        demo_environment(tmp_path / "data"),
        command=pipeline_command("dbt", "build", "--no-such-option"),
    )

    assert result.returncode == 1
    assert error_lines(result) == [
        "error [dbt]: dbt could not run: No such option '--no-such-option'."
    ]


def test_a_project_dbt_cannot_parse_gets_its_cause(tmp_path: Path) -> None:
    """A broken YAML file in the project: the run's line names the file, not
    dbt's bare heading "Parsing Error"."""

    def break_yaml(project: Path) -> None:
        (project / "models" / "broken.yml").write_text(
            "version: 2\nmodels:\n  - name: [broken\n"
        )

    message, data_dir = failed_small_house_build(tmp_path, break_yaml)

    assert message == (
        "dbt could not run: Error reading utility_meters: broken.yml - Runtime "
        f"Error (details: {data_dir}/logs/dbt.log)"
    )
