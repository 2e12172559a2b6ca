{#- The reading at each month's first local midnight. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_rebuilt('meter_id', 'month_start_at', 'month_start_at') }}",
) }}

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
where
    day(day) = 1
    and {{ rebuilt('meter_id', 'day_start_at', 'month_start_at') }}
