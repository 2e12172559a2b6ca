"""A dbt failure's line names its cause (pipeline.dbt.failure_cause), not
dbt's heading ("Parsing Error", "Runtime Error in model ..."), which says
nothing the line does not."""

from __future__ import annotations

from pipeline.dbt import failure_cause


def test_the_cause_follows_dbts_heading() -> None:
    message = (
        "Runtime Error in model int_calendar_days "
        "(models/intermediate/house/int_calendar_days.sql)\n"
        '  Catalog Error: Table with name "int_calendar_days" already exists!'
    )
    assert failure_cause(message) == (
        'Catalog Error: Table with name "int_calendar_days" already exists!'
    )


def test_the_cause_follows_a_heading_without_node() -> None:
    message = (
        "Parsing Error\n"
        "  Error reading utility_meters: broken.yml - Runtime Error\n"
        "    Syntax error near line 4"
    )
    assert failure_cause(message) == (
        "Error reading utility_meters: broken.yml - Runtime Error"
    )


def test_a_message_without_heading_is_its_first_line() -> None:
    assert (
        failure_cause("Binder Error: no column x\nmore") == "Binder Error: no column x"
    )


def test_a_heading_alone_is_kept() -> None:
    heading = "Runtime Error in model m (models/m.sql)"
    assert failure_cause(heading) == heading
    assert failure_cause("") == ""
