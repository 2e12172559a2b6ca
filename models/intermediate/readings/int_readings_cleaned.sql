{#- The readings kept by cleaning: one per (meter, instant), cumulative. -#}
{{ config(materialized='view', tags=['static']) }}
select
    meter_id,
    measured_at,
    reading_value,
    reading_status = 'counter_reset' as is_after_counter_reset
from {{ ref('int_readings_classified') }}
where reading_status in ('valid', 'counter_reset')
