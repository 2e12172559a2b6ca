{#-
    The reading at each month's first local midnight: the daily readings of
    each month's first day. A view: it only filters meter_daily_readings.
-#}
{{ config(materialized='view', tags=['static']) }}

select
    meter_id,
    meter_type,
    unit,
    day as month,
    day_start_at as month_start_at,
    reading,
    reading_method,
    is_estimated
from {{ ref('meter_daily_readings') }}
where day(day) = 1
