select
    cost_item,
    label,
    amount_source,
    meter_id,
    price_id,
    parent_cost_item,
    coalesce(consumption_pct, 0) as consumption_pct,
    measure,
    fixed_key,
    row_number() over () as item_order
from {{ ref('cost_items') }}
