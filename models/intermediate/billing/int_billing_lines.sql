{#-
    The statement lines of every occupancy and period: the allocated parts
    with the occupancy's flat and tenant and the cost item's label, in the
    order of the cost_items seed.
-#}
with lines as (
    select * from {{ ref('int_billing_lines_allocated') }}
),

occupancies as (
    select * from {{ ref('int_billing_occupancies') }}
),

items as (
    select * from {{ ref('stg_billing__cost_items') }}
)

select
    lines.period,
    lines.period_start,
    lines.year,
    lines.occupancy_id,
    occupancies.flat_id,
    occupancies.tenant,
    lines.cost_item,
    items.label,
    items.item_order,
    lines.part,
    lines.allocation_key,
    lines.basis_unit,
    lines.flat_basis,
    lines.total_basis,
    lines.share,
    lines.part_amount_eur,
    lines.amount_eur,
    lines.is_estimated
from lines
inner join occupancies
    on
        lines.period = occupancies.period
        and lines.period_start = occupancies.period_start
        and lines.occupancy_id = occupancies.occupancy_id
inner join items on lines.cost_item = items.cost_item
