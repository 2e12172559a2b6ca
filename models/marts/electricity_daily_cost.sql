{#-
    Electricity cost per local day: the sum of Tibber's hourly cost (energy
    and grid price as Tibber bills it), all homes of the account, including
    hours before the meter's installation, each hour as its latest
    extraction has it (base_landing__tibber_hours). Hours without cost are
    counted, not guessed.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt(none, 'day_start_at', 'cost_day_start_at') }}",
) }}

with hours as (
    select
        home_id,
        hour_start_at,
        cost,
        consumption_kwh,
        currency
    from {{ ref('base_landing__tibber_hours') }}
    where {{ rebuilt(none, 'hour_start_at', 'cost_day_start_at') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

-- The local day of each distinct hour, once: time zone math is costly.
hour_days as (
    select
        hour_start_at,
        {{ local_date('hour_start_at') }} as day
    from (select distinct hour_start_at from hours) as distinct_hours
),

days as (
    select
        hour_days.day,
        sum(cost) as cost,
        sum(consumption_kwh) as consumption_kwh,
        count(*) as hours_reported,
        count(*) filter (where cost is null) as hours_without_cost,
        count(distinct home_id) as home_count,
        any_value(currency) as currency
    from hours
    inner join hour_days on hours.hour_start_at = hour_days.hour_start_at
    where hours.hour_start_at < {{ as_of() }}
    group by hour_days.day
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
