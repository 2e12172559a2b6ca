"""The line-protocol serializer, against hand-written lines."""

from __future__ import annotations

import math

import pytest

from core.errors import InfluxError
from load.line_protocol import point_line


def test_plain_point_has_sorted_tags_fields_and_seconds() -> None:
    line = point_line(
        "energy",
        {"entity_id": "haupt_strom", "domain": "sensor"},
        {"consumption": 0.25, "cost": 0.1},
        1719784800,
    )
    assert line == (
        "energy,domain=sensor,entity_id=haupt_strom consumption=0.25,cost=0.1 "
        "1719784800"
    )


def test_measurement_escapes_comma_and_space_but_not_equals() -> None:
    line = point_line("a b,c=d", {"t": "v"}, {"f": 1.0}, 0)
    assert line == r"a\ b\,c=d,t=v f=1.0 0"


def test_tag_keys_values_and_field_keys_escape_comma_equals_space() -> None:
    line = point_line("m", {"k ,=": "v ,="}, {"f ,=": 2.0}, 5)
    assert line == r"m,k\ \,\==v\ \,\= f\ \,\==2.0 5"


def test_quote_and_inner_backslash_are_written_as_is() -> None:
    # InfluxDB 1.x keeps a backslash that escapes nothing, and a double quote
    # is only special inside string field values.
    assert point_line("m", {"meter_id": 'a"b\\c'}, {"f": 1.0}, 1) == (
        'm,meter_id=a"b\\c f=1.0 1'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (123456789.123456789, "123456789.12345679"),
        (-2.5e-07, "-2.5e-07"),
        (1.5e20, "1.5e+20"),
        (0, "0.0"),
    ],
)
def test_floats_are_written_with_round_trip_precision(value: float, text: str) -> None:
    line = point_line("m", {"t": "v"}, {"f": value}, 0)
    assert line == f"m,t=v f={text} 0"
    assert float(text) == float(value)


def test_non_finite_and_null_fields_are_left_out() -> None:
    line = point_line(
        "m",
        {"t": "v"},
        {"a": math.nan, "b": 3.0, "c": math.inf, "d": None, "e": -math.inf},
        7,
    )
    assert line == "m,t=v b=3.0 7"


def test_point_without_any_writable_field_is_no_point() -> None:
    assert point_line("m", {"t": "v"}, {"a": math.nan, "b": None}, 7) is None
    assert point_line("m", {"t": "v"}, {}, 7) is None


@pytest.mark.parametrize(
    "meter_id", ["ends_with\\", "back\\,comma", "back\\ space", "new\nline", ""]
)
def test_meter_ids_line_protocol_cannot_carry_are_refused_in_one_line(
    meter_id: str,
) -> None:
    with pytest.raises(InfluxError) as caught:
        point_line("m", {"meter_id": meter_id}, {"f": 1.0}, 0)
    assert "\n" not in str(caught.value)
