"""The one InfluxDB line-protocol serializer, for the 1.x and 2.x write APIs.

Escaping follows the line-protocol rules both APIs share: in a measurement,
comma and space; in tag keys, tag values and field keys, comma, equals sign and
space. A backslash is written as is: InfluxDB 1.x keeps `\\\\` as two characters,
so escaping it would change the value. That leaves two strings line protocol
cannot carry at all, a backslash before a character that needs escaping (or at
the end) and a newline; they are refused with a message naming the string.

Fields are floats written with `repr`, the shortest text that parses back to
the same double, so values round-trip exactly. NaN and infinities cannot be
written: such a field is left out, and a point left without fields is no
point (`point_line` returns None).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from core.errors import InfluxError

_MEASUREMENT_SPECIAL = ", "
_KEY_SPECIAL = ",= "


_PLAIN = re.compile(r"[^,= \\\n\r]+")


@lru_cache(maxsize=65_536)
def _escape(text: str, special: str, what: str) -> str:
    if _PLAIN.fullmatch(text):
        return text
    if not text:
        raise InfluxError(f"an empty {what} cannot be written to InfluxDB")
    if "\n" in text or "\r" in text or text.endswith("\\"):
        raise InfluxError(
            f"the {what} {text!r} cannot be written to InfluxDB line protocol "
            "(newline or trailing backslash): rename it"
        )
    escaped = []
    for position, char in enumerate(text):
        if char in special:
            if position > 0 and text[position - 1] == "\\":
                raise InfluxError(
                    f"the {what} {text!r} cannot be written to InfluxDB line "
                    f"protocol (backslash before {char!r}): rename it"
                )
            escaped.append("\\")
        escaped.append(char)
    return "".join(escaped)


def escape_measurement(name: str) -> str:
    return _escape(name, _MEASUREMENT_SPECIAL, "measurement")


def escape_key(text: str, what: str = "tag") -> str:
    """A tag key, tag value or field key."""
    return _escape(text, _KEY_SPECIAL, what)


def format_float(value: float) -> str | None:
    """The exact text of a float field value; None when it is not writable."""
    number = float(value)
    if not math.isfinite(number):
        return None
    return repr(number)


def point_line(
    measurement: str, tags: dict[str, str], fields: dict[str, float | None], time_s: int
) -> str | None:
    """One point as a line (precision seconds), or None if no field is finite.

    Tags are written sorted by key, as InfluxDB recommends; a field whose value
    is None, NaN or infinite is left out.
    """
    field_texts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = format_float(value)
        if text is not None:
            field_texts.append(f"{escape_key(key, 'field key')}={text}")
    if not field_texts:
        return None
    head = escape_measurement(measurement)
    for key in sorted(tags):
        head += f",{escape_key(key, 'tag key')}={escape_key(tags[key], 'tag value')}"
    return f"{head} {','.join(field_texts)} {int(time_s)}"
