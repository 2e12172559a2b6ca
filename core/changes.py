"""Rows not already stored: what a write must send.

The landing zone (a new file holds only new or changed rows), the record of
the Tibber hours written to InfluxDB and the record of the published marts
find what to write by one rule: a row is stored when a stored row has its
key and the same values. Values compare null-safe (null is null, and a value
differs from null); with `relative_noise`, two numbers closer than that share
of the larger one are the same value (a sum taken in another order differs
in its last bits, and that is no change).

Both functions return SQL text over relations named by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence


def differs(
    values: Sequence[str],
    new: str,
    old: str,
    *,
    relative_noise: float | None = None,
) -> str:
    """SQL: true when a value column of row `new` differs from the one of
    row `old` (aliases)."""
    if not values:
        return "false"
    if relative_noise is None:
        return " or ".join(f"{new}.{v} is distinct from {old}.{v}" for v in values)
    noise = float(relative_noise)
    return " or ".join(
        f"({new}.{v} is distinct from {old}.{v} and coalesce("
        f"abs({new}.{v} - {old}.{v}) > {noise!r} * "
        f"greatest(abs({new}.{v}), abs({old}.{v})), true))"
        for v in values
    )


def not_stored(
    incoming: str,
    stored: str,
    key: Sequence[str],
    values: Sequence[str],
    *,
    relative_noise: float | None = None,
) -> str:
    """SQL: the rows of `incoming` whose key `stored` does not hold with the
    same values: new keys and changed values (relations or subqueries)."""
    same_key = " and ".join(f"s.{k} = n.{k}" for k in key)
    changed = differs(values, "n", "s", relative_noise=relative_noise)
    return f"""
        select n.* from {incoming} as n
        where not exists (
            select 1 from {stored} as s
            where {same_key} and not ({changed})
        )
    """
