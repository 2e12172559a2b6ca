{#-
    The yearly cost statement's lines: one row per occupancy, cost item and
    part (consumption, fixed, metered, base_fee), for every complete year,
    amounts unrounded (`make statement` writes them as statement_lines.csv).
-#}
with lines as (
    select * from {{ ref('int_billing_lines') }}
    where period = 'year'
)

select
    year,
    occupancy_id,
    flat_id,
    tenant,
    cost_item,
    part,
    basis_unit,
    flat_basis,
    total_basis,
    amount_eur,
    label,
    allocation_key,
    share,
    part_amount_eur,
    is_estimated,
    item_order
from lines
