-- For every cost item and period, the amounts of all occupancies
-- (vacancies included) add up to the cost item's amount.
with amounts as (
    select * from {{ ref('int_billing_item_amounts') }}
    where not is_parent
),

lines as (
    select
        period,
        period_start,
        cost_item,
        sum(amount_eur) as allocated_eur
    from {{ ref('int_billing_lines') }}
    group by period, period_start, cost_item
)

select
    amounts.period,
    amounts.period_start,
    amounts.cost_item,
    amounts.amount_eur,
    lines.allocated_eur
from amounts
left join lines
    on
        amounts.period = lines.period
        and amounts.period_start = lines.period_start
        and amounts.cost_item = lines.cost_item
where
    lines.allocated_eur is null
    or abs(amounts.amount_eur - lines.allocated_eur)
    > 1e-9 * greatest(1.0, abs(amounts.amount_eur))
