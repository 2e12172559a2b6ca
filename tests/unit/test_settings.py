"""Every setting is read by Settings, and dbt gets each one it reads from there.

The dbt project writes the defaults of the settings it reads once, as the
second argument of env_var(); Python takes them from there, so both sides
agree by construction. These tests hold both sides to that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import ROOT, dbt_env_vars, dbt_vars, load_settings
from extract import demo
from pipeline.dbt import SCOPE_VARIABLE


def test_every_env_var_the_dbt_project_reads_is_a_setting_settings_exports(
    tmp_path: Path,
) -> None:
    """profiles.yml, dbt_project.yml, the models and macros read nothing
    through env_var() that Settings.dbt_environment does not set, but the
    rebuild scope of one command; and it sets nothing dbt does not read (but
    dbt's own usage switch)."""
    read = set(dbt_env_vars(ROOT))
    exported = set(load_settings(tmp_path, {}).dbt_environment())
    assert read - exported == {SCOPE_VARIABLE}
    assert exported - read == {"DBT_SEND_ANONYMOUS_USAGE_STATS"}
    assert {"DATA_DIR", "METER_TIMEZONE", "DUCKDB_MEMORY_LIMIT"} <= read


def test_unset_settings_take_the_defaults_the_dbt_project_writes(
    tmp_path: Path,
) -> None:
    """Without any setting, Python and dbt see the same values: the defaults
    the README lists (Europe/Berlin, haupt_strom, 3.5GB, data)."""
    settings = load_settings(tmp_path, {})
    assert settings.timezone == "Europe/Berlin"
    assert settings.tibber_meter_id == "haupt_strom"
    assert settings.duckdb_memory_limit == "3.5GB"
    assert settings.data_dir == tmp_path / "data"
    assert settings.dbt_project_dir == ROOT
    environment = settings.dbt_environment()
    for name, default in dbt_env_vars(ROOT).items():
        if name not in {"DATA_DIR", SCOPE_VARIABLE}:  # DATA_DIR: resolved
            assert environment[name] == default, name


def test_a_setting_given_twice_with_different_defaults_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "profiles.yml").write_text(
        "tz: \"{{ env_var('METER_TIMEZONE', 'UTC') }}\"\n"
    )
    (tmp_path / "dbt_project.yml").write_text(
        "vars:\n  timezone: \"{{ env_var('METER_TIMEZONE', 'Europe/Berlin') }}\"\n"
    )
    with pytest.raises(
        ConfigError, match=r"env_var\('METER_TIMEZONE'\).*make them equal"
    ):
        dbt_env_vars(tmp_path)


def test_the_demo_converts_gas_with_the_models_factors() -> None:
    """The demo generator and int_unit_conversions read the same dbt vars:
    1 m³ = 11.504 x 0.8885 = 10.221304 kWh."""
    assert dbt_vars()["gas_energy_content_kwh_per_m3"] == 11.504
    assert dbt_vars()["gas_z_factor"] == 0.8885
    assert pytest.approx(10.221304, abs=1e-12) == demo.KWH_PER_M3
    assert load_settings(ROOT, {}).tibber_meter_id == demo.TIBBER_METER_ID


def test_duckdb_memory_limit_is_read_from_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DUCKDB_MEMORY_LIMIT=512MiB\n")
    settings = load_settings(tmp_path, {})
    assert settings.duckdb_memory_limit == "512MiB"
    assert settings.dbt_environment()["DUCKDB_MEMORY_LIMIT"] == "512MiB"


@pytest.mark.parametrize("value", ["lots", "80%", "4 parsecs"])
def test_a_memory_limit_that_is_no_size_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"^DUCKDB_MEMORY_LIMIT=.* is not a size: "):
        load_settings(tmp_path, {"DUCKDB_MEMORY_LIMIT": value})


def test_dbt_project_dir_is_a_setting(tmp_path: Path) -> None:
    """A relative DBT_PROJECT_DIR is relative to the settings' folder; one
    without dbt_project.yml is refused before anything runs."""
    (tmp_path / "house").mkdir()
    (tmp_path / "house" / "dbt_project.yml").write_text("name: copy\n")
    settings = load_settings(tmp_path, {"DBT_PROJECT_DIR": "house"})
    assert settings.dbt_project_dir == tmp_path / "house"
    assert settings.house_dir == tmp_path / "house" / "seeds"
    with pytest.raises(
        ConfigError, match=r"^DBT_PROJECT_DIR=.* holds no dbt_project.yml"
    ):
        load_settings(tmp_path, {"DBT_PROJECT_DIR": "elsewhere"})


def test_the_models_settings_are_what_dbt_reads_but_place_and_memory(
    tmp_path: Path,
) -> None:
    """The build's fingerprint (pipeline/rebuild.py) covers these: another
    time zone or Tibber meter rebuilds everything, another DATA_DIR or
    memory limit does not."""
    base = load_settings(tmp_path, {})
    assert base.model_settings() == ["Europe/Berlin", "haupt_strom", ""]
    elsewhere = load_settings(
        tmp_path, {"DATA_DIR": "other", "DUCKDB_MEMORY_LIMIT": "1GB"}
    )
    assert elsewhere.model_settings() == base.model_settings()
    assert load_settings(tmp_path, {"METER_TIMEZONE": "UTC"}).model_settings() == [
        "UTC",
        "haupt_strom",
        "",
    ]


def test_the_help_names_the_defaults_the_dbt_project_writes() -> None:
    """`--help` shows e.g. METER_TIMEZONE's default as dbt_project.yml
    writes it: Europe/Berlin."""
    from pipeline.__main__ import SETTINGS_HELP

    for name in ("METER_TIMEZONE", "TIBBER_METER_ID", "DUCKDB_MEMORY_LIMIT"):
        block = SETTINGS_HELP.split(f"  {name} ", 1)[1].split("\n  ", 2)
        text = " ".join(block[:2])
        assert f"(default: {dbt_env_vars(ROOT)[name]})" in text, name
    assert "(default: Europe/Berlin)" in SETTINGS_HELP
