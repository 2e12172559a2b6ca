{#-
    Electricity cost per local day: the sum of Tibber's hourly cost (energy
    and grid price as Tibber bills it), all homes of the account, including
    hours before the meter's installation. Hours without cost are counted,
    not guessed.
-#}
with hours as (
    select * from {{ ref('stg_landing__tibber_hours') }}
    qualify row_number() over (
        partition by home_id, hour_start_at
        order by extracted_at desc
    ) = 1
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

days as (
    select
        {{ local_date('hour_start_at') }} as day,
        sum(cost) as cost,
        sum(consumption_kwh) as consumption_kwh,
        count(*) as hours_reported,
        count(*) filter (where cost is null) as hours_without_cost,
        count(distinct home_id) as home_count,
        any_value(currency) as currency
    from hours
    where hour_start_at < {{ as_of() }}
    group by {{ local_date('hour_start_at') }}
)

select
    days.day,
    calendar.day_start_at,
    calendar.month,
    days.cost,
    days.currency,
    days.consumption_kwh,
    days.hours_reported,
    days.hours_without_cost,
    cast(round(
        (epoch(calendar.day_end_at) - epoch(calendar.day_start_at)) / 3600
    ) as integer) * days.home_count - days.hours_reported as hours_missing
from days
inner join calendar on days.day = calendar.day
