{#-
    Daily consumption of physical meters: the counter at the day's end (the
    next midnight, or as_of for the current day, or the removal) minus the
    counter at its start, both on the day's row of
    int_daily_readings_interpolated. A day is estimated when either end is
    estimated or a Tibber hour inside it was estimated; partial when it ends
    at as_of before midnight; backed by measurement when every interval
    between consecutive readings that overlaps it is at most
    anomaly_max_reading_gap_days long (an interpolated stretch between sparse
    readings cannot reveal an anomaly). Intervals are compared in
    microseconds: timestamptz subtraction goes through ICU's calendar, slowly.
    A view: both ends of every day are on its row, so storing the difference
    would only copy the table.
-#}
{%- set max_gap_us = var('anomaly_max_reading_gap_days') * 86400000000 -%}
{{ config(materialized='view', tags=['static']) }}

with readings as (
    select * from {{ ref('int_daily_readings_interpolated') }}
),

estimated_inputs as (
    select distinct
        meter_id,
        {{ local_date('reading_at - interval 1 microsecond') }} as day
    from {{ ref('int_readings_combined') }}
    where is_estimated
)

select
    readings.meter_id,
    readings.day,
    readings.reading_at as day_start_at,
    readings.next_value - readings.reading_value as consumption,
    readings.reading_method = 'estimated'
    or readings.is_next_estimated
    or estimated_inputs.day is not null as is_estimated,
    readings.is_partial_day as is_partial,
    coalesce(
        epoch_us(readings.next_reading_at)
        - epoch_us(readings.previous_reading_at)
        <= {{ max_gap_us }}
        and readings.is_next_backed,
        false
    ) as is_measurement_backed
from readings
left join estimated_inputs
    on
        readings.meter_id = estimated_inputs.meter_id
        and readings.day = estimated_inputs.day
where readings.day is not null and readings.next_at > readings.reading_at
