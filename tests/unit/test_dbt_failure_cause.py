"""A failed node's line names its cause (pipeline.dbt.failure_cause), not
dbt's heading, which repeats the node the line already names."""

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


def test_a_message_without_heading_is_its_first_line() -> None:
    assert (
        failure_cause("Binder Error: no column x\nmore") == "Binder Error: no column x"
    )


def test_a_heading_alone_is_kept() -> None:
    heading = "Runtime Error in model m (models/m.sql)"
    assert failure_cause(heading) == heading
    assert failure_cause("") == ""
