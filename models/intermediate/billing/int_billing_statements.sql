{#-
    One statement per occupancy and period: its days, the sum of its lines,
    its prepayments and the balance (positive: the tenant pays; negative:
    a refund). Estimated when any of its lines rests on an estimated day.
-#}
with occupancies as (
    select * from {{ ref('int_billing_occupancies') }}
),

lines as (
    select * from {{ ref('int_billing_lines') }}
),

costs as (
    select
        period,
        period_start,
        occupancy_id,
        sum(amount_eur) as costs_eur,
        bool_or(is_estimated) as is_estimated
    from lines
    group by period, period_start, occupancy_id
)

select
    occupancies.period,
    occupancies.period_start,
    occupancies.year,
    occupancies.occupancy_id,
    occupancies.flat_id,
    '{{ var("house_name") }}' as house_name,
    occupancies.flat_name,
    occupancies.tenant,
    occupancies.is_vacancy,
    occupancies.first_day,
    occupancies.last_day,
    occupancies.days,
    coalesce(costs.costs_eur, 0.0) as costs_eur,
    occupancies.prepayments_eur,
    coalesce(costs.costs_eur, 0.0) - occupancies.prepayments_eur as balance_eur,
    coalesce(costs.is_estimated, false) as is_estimated
from occupancies
left join costs
    on
        occupancies.period = costs.period
        and occupancies.period_start = costs.period_start
        and occupancies.occupancy_id = costs.occupancy_id
