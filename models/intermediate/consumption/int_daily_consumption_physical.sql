{#-
    Daily consumption of physical meters: the counter at the start of the next
    day (or at as_of for the current day, or at removal) minus the counter at
    the start of the day. A day is estimated when either end is estimated or
    a Tibber hour inside it was estimated; partial when it is followed by the
    as_of row (the only row without a day); backed by measurement when every
    interval between consecutive readings that overlaps it is at most
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

intervals as (
    select
        *,
        epoch_us(next_reading_at) - epoch_us(previous_reading_at)
            as reading_interval_us
    from readings
),

sequenced as (
    select
        *,
        lead(reading_at) over by_time as next_at,
        lead(day) over by_time as next_day,
        lead(reading_value) over by_time as next_value,
        lead(reading_method) over by_time as next_method,
        lead(reading_interval_us) over by_time as next_interval_us
    from intervals
    window by_time as (partition by meter_id order by reading_at)
),

days as (
    select
        sequenced.meter_id,
        sequenced.day,
        sequenced.reading_at as day_start_at,
        sequenced.next_value - sequenced.reading_value as consumption,
        sequenced.reading_method = 'estimated'
        or sequenced.next_method = 'estimated'
        or estimated_inputs.day is not null as is_estimated,
        sequenced.next_day is null as is_partial,
        sequenced.reading_interval_us <= {{ max_gap_us }}
        and (
            sequenced.next_method = 'measured'
            or sequenced.next_interval_us <= {{ max_gap_us }}
        ) as is_measurement_backed
    from sequenced
    left join estimated_inputs
        on
            sequenced.meter_id = estimated_inputs.meter_id
            and sequenced.day = estimated_inputs.day
    where sequenced.day is not null and sequenced.next_at is not null
)

select
    meter_id,
    day,
    day_start_at,
    consumption,
    is_estimated,
    is_partial,
    coalesce(is_measurement_backed, false) as is_measurement_backed
from days
