{#- Electricity cost per local month: the sum of its days. -#}
with days as (
    select * from {{ ref('electricity_daily_cost') }}
),

calendar as (
    select distinct
        month,
        month_start_at
    from {{ ref('int_calendar_days') }}
)

select
    days.month,
    calendar.month_start_at,
    sum(days.cost) as cost,
    any_value(days.currency) as currency,
    sum(days.consumption_kwh) as consumption_kwh,
    sum(days.hours_reported) as hours_reported,
    sum(days.hours_without_cost) as hours_without_cost,
    sum(days.hours_missing) as hours_missing
from days
inner join calendar on days.month = calendar.month
group by days.month, calendar.month_start_at
