"""The generic data test `valid_rows` (macros/generic_tests/valid_rows.sql):
each of its rules fails on a row that breaks it, names the rule in the
row's `problem`, and passes what the rule allows.

A small dbt project of this project's macros, one model per rule with
hand-written rows, built once in this process (a real DuckDB file).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import duckdb
import pytest
import yaml

from core.settings import load_settings
from pipeline.dbt import ROOT, invoke

# model -> (its rows as SQL, the test's arguments, the problems it must find)
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "every_rule_kept": (
        """
        select * from (values
            ('a', date '2024-01-01', 1.0, 'valid', null, 1),
            ('a', date '2024-01-02', 1.0, 'typo', 'rule', 2),
            -- a fall within the float tolerance
            ('a', date '2024-01-03', 1.0 - 1e-12, null, null, 3),
            ('b', date '2024-01-05', 0.0, 'valid', null, 4)
        ) as rows(meter_id, day, reading, status, detail, k)
        """,
        {
            "key": ["k"],
            "not_null": ["meter_id", {"detail": "status = 'typo'"}],
            "accepted_values": {"status": ["valid", "typo"]},
            "series": {
                "partition_by": "meter_id",
                "order_by": "day",
                "non_decreasing": "reading",
                "every_day": True,
            },
        },
        [],
    ),
    "key_twice": (
        "select * from (values (1, 'x'), (1, 'y'), (2, 'z')) as rows(k, v)",
        {"key": ["k"]},
        ["more than one row with this k"] * 2,
    ),
    "key_twice_where_counted": (
        """
        select * from (values
            (1, false), (1, true), (2, false), (2, false)
        ) as rows(k, is_superseded)
        """,
        {"key": ["k"], "key_where": "not is_superseded"},
        ["more than one row with this k"] * 2,
    ),
    "null_value": (
        "select * from (values (1, 'x'), (2, null)) as rows(k, v)",
        {"key": ["k"], "not_null": ["v"]},
        ["v is null"],
    ),
    "null_where_required": (
        """
        select * from (values
            (1, 'typo', null), (2, 'valid', null), (3, 'typo', 'rule')
        ) as rows(k, status, detail)
        """,
        {"key": ["k"], "not_null": [{"detail": "status = 'typo'"}]},
        ["detail is null"],
    ),
    "value_not_accepted": (
        "select * from (values (1, 'valid'), (2, 'other'), (3, null)) as rows(k, s)",
        {"key": ["k"], "accepted_values": {"s": ["valid", "typo"]}},
        ["s other is not one of valid, typo"],
    ),
    "day_twice": (
        """
        select * from (values
            ('a', date '2024-01-01'), ('a', date '2024-01-01'),
            ('b', date '2024-01-01')
        ) as rows(meter_id, day)
        """,
        {
            "key": ["meter_id", "day"],
            "series": {"partition_by": "meter_id", "order_by": "day"},
        },
        ["more than one row with this meter_id, day"],
    ),
    "day_missing": (
        """
        select * from (values
            ('a', date '2024-01-01'), ('a', date '2024-01-02'),
            ('a', date '2024-01-05'), ('b', date '2024-01-09')
        ) as rows(meter_id, day)
        """,
        {"series": {"partition_by": "meter_id", "order_by": "day", "every_day": True}},
        ["days missing after 2024-01-02"],
    ),
    "counter_falls": (
        """
        select * from (values
            ('a', date '2024-01-01', 10.0), ('a', date '2024-01-02', 9.5),
            ('b', date '2024-01-01', 1.0)
        ) as rows(meter_id, day, reading)
        """,
        {
            "series": {
                "partition_by": "meter_id",
                "order_by": "day",
                "non_decreasing": "reading",
            }
        },
        ["reading falls from 10.0 to 9.5"],
    ),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The project built and tested once: (dbt's results by test name, the
    warehouse)."""
    project = tmp_path_factory.mktemp("valid-rows")
    shutil.copy(ROOT / "profiles.yml", project / "profiles.yml")
    (project / "macros").mkdir()
    shutil.copy(ROOT / "macros/generic_tests/valid_rows.sql", project / "macros")
    (project / "dbt_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": "valid_rows_check",
                "version": "1.0.0",
                "config-version": 2,
                "profile": "utility_meters",
                "models": {"valid_rows_check": {"+materialized": "table"}},
            }
        )
    )
    models = project / "models"
    models.mkdir()
    for name, (sql, _, _) in CASES.items():
        (models / f"{name}.sql").write_text(sql)
    (models / "models.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "models": [
                    {
                        "name": name,
                        "data_tests": [
                            {
                                "valid_rows": {
                                    "name": f"valid_rows_{name}",
                                    "arguments": arguments,
                                }
                            }
                        ],
                    }
                    for name, (_, arguments, _) in CASES.items()
                ],
            },
            sort_keys=False,
        )
    )
    settings = load_settings(project, {"DATA_DIR": str(project / "data")})
    result = invoke(settings, datetime.now(UTC), ["build"], project)
    assert result.exception is None
    tests = {
        node_result.node.name: node_result
        for node_result in result.result
        if str(node_result.node.resource_type) == "test"
    }
    return tests, settings.warehouse


@pytest.mark.parametrize("model", sorted(CASES))
def test_each_rule_fails_on_the_rows_that_break_it(model: str, built) -> None:
    tests, warehouse = built
    node_result = tests[f"valid_rows_{model}"]
    expected = CASES[model][2]
    assert str(node_result.status) == ("fail" if expected else "pass")
    with duckdb.connect(str(warehouse), read_only=True) as db:
        problems = [
            problem
            for (problem,) in db.execute(
                f"select problem from ({node_result.node.compiled_code}) order by all"
            ).fetchall()
        ]
    assert problems == expected
