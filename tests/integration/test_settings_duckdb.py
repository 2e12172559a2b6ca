"""A setting given in `.env` reaches the DuckDB connection dbt builds with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import load_settings
from pipeline.dbt import invoke


def test_duckdb_memory_limit_in_the_env_file_reaches_dbts_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """512MiB in `.env` (not in the environment) is what DuckDB reports in
    dbt's connection: 512 x 1024² bytes, shown as `512.0 MiB` (the default,
    3.5GB, would show as 3.2 GiB)."""
    (tmp_path / ".env").write_text("DUCKDB_MEMORY_LIMIT=512MiB\nDATA_DIR=data\n")
    settings = load_settings(tmp_path, {})
    for name in settings.dbt_environment():  # invoke sets them; undo after
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("DUCKDB_MEMORY_LIMIT")
    result = invoke(
        settings,
        datetime.now(UTC),
        [
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit",
            "--quiet",
        ],
        settings.dbt_project_dir,
    )
    assert result.success, result.exception
    assert result.result.results[0].agate_table.rows[0][0] == "512.0 MiB"
