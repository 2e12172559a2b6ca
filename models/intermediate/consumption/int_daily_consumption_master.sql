{#-
    Daily consumption of master meters: the master's counter at the start of
    the next day (or at as_of) minus its counter at the start of the day, so
    the swap day holds the old meter's consumption up to the boundary plus
    the new meter's after it. Flags come from the period's sources that day.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', 'day_start_at') }}",
) }}

with readings as (
    {{ rebuilt_rows(ref('int_master_readings_combined'), 'reading_at') }}
),

periods as (
    select * from {{ ref('stg_house__master_meter_periods') }}
),

source_days as (
    {{ rebuilt_rows(
        ref('int_daily_consumption_physical'), 'day_start_at', meters='read'
    ) }}
),

sequenced as (
    select
        *,
        lead(reading_at) over by_time as next_at,
        lead(day) over by_time as next_day,
        lead(reading_value) over by_time as next_value
    from readings
    window by_time as (partition by meter_id order by reading_at)
),

source_flags as (
    select
        periods.meter_id,
        periods.period_number,
        source_days.day,
        bool_or(source_days.is_estimated) as is_estimated,
        bool_and(source_days.is_measurement_backed) as is_measurement_backed
    from periods
    inner join source_days on periods.source_meter_id = source_days.meter_id
    group by periods.meter_id, periods.period_number, source_days.day
)

select
    sequenced.meter_id,
    sequenced.day,
    sequenced.reading_at as day_start_at,
    sequenced.next_value - sequenced.reading_value as consumption,
    coalesce(source_flags.is_estimated, true) as is_estimated,
    sequenced.next_day is null as is_partial,
    coalesce(source_flags.is_measurement_backed, false)
        as is_measurement_backed
from sequenced
left join source_flags
    on
        sequenced.meter_id = source_flags.meter_id
        and sequenced.period_number = source_flags.period_number
        and sequenced.day = source_flags.day
where sequenced.day is not null and sequenced.next_at is not null
