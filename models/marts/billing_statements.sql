{#-
    The yearly cost statement of every occupancy (tenancy or vacancy) for
    every complete year (`make statement` writes them as statements.csv).
-#}
with statements as (
    select * from {{ ref('int_billing_statements') }}
    where period = 'year'
)

select
    year,
    occupancy_id,
    flat_id,
    tenant,
    days,
    costs_eur,
    prepayments_eur,
    balance_eur,
    is_estimated,
    house_name,
    flat_name,
    is_vacancy,
    first_day,
    last_day
from statements
