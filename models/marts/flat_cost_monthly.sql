{#-
    Each flat's cost per cost item and complete month, for watching the
    running costs (published as flat_cost_monthly): the month's amount of
    the item divided as a statement for that month would divide it, summed
    over the flat's occupancies (vacancies included). The yearly statement
    is the bill; its shares are taken over the year.
-#}
with lines as (
    select * from {{ ref('int_billing_lines') }}
    where period = 'month'
),

calendar as (
    select distinct
        month,
        month_start_at
    from {{ ref('int_calendar_days') }}
),

months as (
    select
        period_start as month,
        flat_id,
        cost_item,
        sum(amount_eur) as amount_eur,
        bool_or(is_estimated) as is_estimated
    from lines
    group by period_start, flat_id, cost_item
)

select
    months.month,
    calendar.month_start_at,
    months.flat_id,
    months.cost_item,
    months.amount_eur,
    months.is_estimated
from months
inner join calendar on months.month = calendar.month
