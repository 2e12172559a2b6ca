{#-
    Daily consumption of physical meters: the counter at the day's end (the
    next midnight, or as_of for the current day, or the removal) minus the
    counter at its start. Inside one reading segment the end counter comes
    with the row; a day that contains a reading takes the reading at its end
    from the row at that instant. A day is estimated when either end is
    estimated or a Tibber hour inside it was estimated; partial when it ends
    at as_of before midnight; backed by measurement when every interval
    between consecutive readings that overlaps it is at most
    anomaly_max_reading_gap_days long (an interpolated stretch between sparse
    readings cannot reveal an anomaly). Intervals are compared in
    microseconds: timestamptz subtraction goes through ICU's calendar, slowly.
-#}
{%- set max_gap_us = var('anomaly_max_reading_gap_days') * 86400000000 -%}

with readings as (
    select * from {{ ref('int_daily_readings_interpolated') }}
),

estimated_inputs as (
    select distinct
        meter_id,
        {{ local_date('reading_at - interval 1 microsecond') }} as day
    from {{ ref('int_readings_combined') }}
    where is_estimated
),

days as (
    select
        *,
        epoch_us(next_reading_at) - epoch_us(previous_reading_at)
            as reading_interval_us
    from readings
    where day is not null and next_at > reading_at
),

straddling as (
    select
        days.meter_id,
        days.day,
        ends.reading_value as end_value,
        ends.reading_method = 'estimated' as is_end_estimated,
        ends.reading_method = 'measured'
        or epoch_us(ends.next_reading_at) - epoch_us(ends.previous_reading_at)
        <= {{ max_gap_us }} as is_end_backed
    from days
    inner join readings as ends
        on
            days.meter_id = ends.meter_id
            and days.next_at = ends.reading_at
    where days.next_value_in_segment is null
),

day_ends as (
    select
        days.*,
        coalesce(days.next_value_in_segment, straddling.end_value)
            as end_value,
        coalesce(straddling.is_end_estimated, days.is_next_estimated)
            as is_end_estimated,
        coalesce(straddling.is_end_backed, true) as is_end_backed
    from days
    left join straddling
        on
            days.meter_id = straddling.meter_id
            and days.day = straddling.day
)

select
    day_ends.meter_id,
    day_ends.day,
    day_ends.reading_at as day_start_at,
    day_ends.end_value - day_ends.reading_value as consumption,
    day_ends.reading_method = 'estimated'
    or day_ends.is_end_estimated
    or estimated_inputs.day is not null as is_estimated,
    day_ends.is_partial_day as is_partial,
    coalesce(
        day_ends.reading_interval_us <= {{ max_gap_us }}
        and day_ends.is_end_backed,
        false
    ) as is_measurement_backed
from day_ends
left join estimated_inputs
    on
        day_ends.meter_id = estimated_inputs.meter_id
        and day_ends.day = estimated_inputs.day
