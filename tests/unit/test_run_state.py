"""The run state of an older version's DATA_DIR moves into the warehouse
schema `run_state` on the first run, whole or not at all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import run_state, source
from core.errors import LandingError
from core.settings import ROOT, load_settings
from load import publish
from pipeline import alerts, rebuild, reported

COMPLETED = {
    "inputs": {
        "as_of": "2026-11-27T09:00:00+00:00",
        "landing": "l1",
        "project": "p1",
        "settings": "s1",
    },
    "completed_at": "2026-11-27T09:00:07+00:00",
}


def older_data_dir(data_dir: Path) -> Path:
    """A DATA_DIR as the previous version left it: records in `main`,
    `load_state`, `notify_state` and two files under state/."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as db:
        db.execute(
            "create table main.build_state (fingerprint varchar, "
            "as_of_at timestamptz, landed_until timestamptz, landing_files integer, "
            "last_landing_file varchar, built_at timestamptz)"
        )
        db.execute(
            "insert into main.build_state values ('f1', '2026-11-27 09:00:00+00', "
            "null, 3, '20261127-a.parquet', '2026-11-27 09:00:05+00')"
        )
        db.execute("create schema load_state")
        db.execute(
            "create table load_state.published_points (measurement varchar, "
            "meter_id varchar, time_s bigint, value double)"
        )
        db.execute(
            "insert into load_state.published_points values "
            "('meter_consumption', 'eg_strom', 1700000000, 1.5), "
            "('meter_consumption', 'eg_strom', 1700086400, 2.5)"
        )
        db.execute("create table load_state.published_target (target varchar)")
        db.execute("insert into load_state.published_target values ('http://nas p')")
        db.execute("create table load_state.published_source (source_json varchar)")
        db.execute("create schema notify_state")
        db.execute(
            "create table notify_state.sent_alerts (event_key varchar not null, "
            "target varchar not null, primary key (event_key, target))"
        )
        db.execute("insert into notify_state.sent_alerts values ('e1', 't1')")
        db.execute("create table main.meters (meter_id varchar)")  # dbt's
    state = data_dir / "state"
    state.mkdir()
    (state / "last_run.json").write_text(json.dumps(COMPLETED))
    (state / "anomalies.json").write_text(json.dumps(["eg_strom 2026-11-20"]))
    hours = pa.table(
        {
            "target": ["http://nas lampfi"] * 2,
            "entity_id": ["haupt_strom"] * 2,
            "time_s": pa.array([1711843200, 1711846800], pa.int64()),
            "consumption": [0.5, None],
            "cost": [0.15, 0.2],
            "unit_price": [0.3, 0.3],
            "unit_price_vat": [0.36, 0.36],
        }
    )
    pq.write_table(hours, state / "tibber_hours_published.parquet")
    return data_dir


def tables(data_dir: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        rows = db.execute(
            "select schema_name, table_name from duckdb_tables() order by 1, 2"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for schema, table in rows:
        found.setdefault(schema, []).append(table)
    return found


def test_an_older_data_dirs_state_moves_into_run_state_once(tmp_path: Path) -> None:
    data_dir = older_data_dir(tmp_path / "data")

    moved = run_state.migrate(data_dir)

    assert sorted(moved) == [
        "load_state.published_points",
        "load_state.published_source",
        "load_state.published_target",
        "main.build_state",
        "notify_state.sent_alerts",
        "state/anomalies.json",
        "state/last_run.json",
        "state/tibber_hours_published.parquet",
    ]
    assert tables(data_dir) == {
        "main": ["meters"],
        "run_state": [
            "build_state",
            "last_run",
            "published_points",
            "published_source",
            "published_target",
            "reported",
            "sent_alerts",
            "tibber_hours_published",
        ],
    }
    assert not (data_dir / "state" / "last_run.json").exists()
    assert not (data_dir / "state" / "anomalies.json").exists()
    assert not (data_dir / "state" / "tibber_hours_published.parquet").exists()
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as db:
        assert db.execute(
            "select fingerprint, landing_files from run_state.build_state"
        ).fetchall() == [("f1", 3)]
        assert db.execute(
            "select sum(value) from run_state.published_points"
        ).fetchone() == (4.0,)
        assert db.execute(
            "select as_of, landing_digest, project_fingerprint, settings_digest, "
            "epoch(completed_at) from run_state.last_run"
        ).fetchall() == [  # 2026-01-01 1767225600 + 330 days + 9 h 7 s
            ("2026-11-27T09:00:00+00:00", "l1", "p1", "s1", 1795770007.0)
        ]
        assert db.execute(
            "select time_s, consumption, cost from run_state.tibber_hours_published "
            "order by 1"
        ).fetchall() == [(1711843200, 0.5, 0.15), (1711846800, None, 0.2)]
        assert db.execute("select * from run_state.reported").fetchall() == [
            ("anomaly", "eg_strom 2026-11-20")
        ]
        with pytest.raises(duckdb.ConstraintException):  # its key moved too
            db.execute("insert into run_state.sent_alerts values ('e1', 't1')")
    assert run_state.migrate(data_dir) == []


def test_a_migration_that_fails_halfway_changes_nothing(tmp_path: Path) -> None:
    """A record file it cannot read stops the move before anything is
    committed: the old tables and files stay, the next run tries again."""
    data_dir = older_data_dir(tmp_path / "data")
    hours = data_dir / "state" / "tibber_hours_published.parquet"
    hours.write_bytes(b"not parquet")
    before = tables(data_dir)

    with pytest.raises(
        LandingError,
        match=r"^cannot read .*; delete it to republish every Tibber hour$",
    ):
        run_state.migrate(data_dir)

    assert tables(data_dir) == before
    assert "run_state" not in before
    assert (data_dir / "state" / "last_run.json").is_file()
    assert hours.is_file()


def test_a_record_already_in_run_state_wins_over_an_older_one(
    tmp_path: Path,
) -> None:
    """E.g. `make reset-processed` emptied run_state.published_points while
    load_state still held the old rows: they are dropped, not moved back."""
    data_dir = older_data_dir(tmp_path / "data")
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as db:
        db.execute("create schema run_state")
        db.execute(
            "create table run_state.published_points (measurement varchar, "
            "meter_id varchar, time_s bigint, value double)"
        )

    assert "load_state.published_points" not in run_state.migrate(data_dir)

    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as db:
        assert db.execute(
            "select count(*) from run_state.published_points"
        ).fetchone() == (0,)
    assert "load_state" not in tables(data_dir)


def test_a_new_data_dir_gets_no_warehouse_from_the_move(tmp_path: Path) -> None:
    assert run_state.migrate(tmp_path) == []
    assert not (tmp_path / "warehouse.duckdb").exists()


def documented_tables() -> dict[str, str]:
    """docs/architecture.md's table of the schema: name -> its columns cell."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("### The run state: schema `run_state`", 1)[1]
    section = section.split("\n\n**", 1)[0]
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \| (.*?) \|", section, re.M)
    }


def test_every_table_and_column_of_run_state_is_documented(tmp_path: Path) -> None:
    """Each writer creates its tables in an empty warehouse; every table of
    the schema has its row in docs/architecture.md, naming every column."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as db:
        run_state.ensure(db)
        db.execute(rebuild.STATE_DDL)
        db.execute(run_state.LAST_RUN_DDL)
        db.execute(run_state.TIBBER_HOURS_DDL)
        db.execute(run_state.TIBBER_HOURS_CHECKED_DDL)
        db.execute(alerts.STATE_DDL)
        publish.ensure_state(db)
        publish.note_build(db, everything=True)
    reported.last_news(warehouse)
    source.record_in_warehouse(warehouse, source.current(load_settings(tmp_path, {})))
    with duckdb.connect(str(warehouse), read_only=True) as db:
        columns = db.execute(
            "select table_name, column_name from duckdb_columns() "
            "where schema_name = ?",
            [run_state.SCHEMA],
        ).fetchall()
    documented = documented_tables()
    assert sorted(documented) == sorted({table for table, _ in columns})
    missing = [
        f"{table}.{column}"
        for table, column in columns
        if f"`{column}`" not in documented[table]
    ]
    assert missing == []
