-- The bases of a yearly statement (consumption and fixed weights) are never
-- negative. (Monthly figures for watching may be: a virtual meter such as
-- the fireplace's gas is not clipped and can dip below 0 in a summer month.)
select
    year,
    occupancy_id,
    cost_item,
    part,
    flat_basis,
    total_basis
from {{ ref('billing_statement_lines') }}
where flat_basis < 0 or total_basis < 0
