{#-
    The readings that drive every physical meter: cleaned manual readings,
    except that inside the Tibber stretch the Tibber counter (one reading per
    hour boundary) replaces them. Manual readings there are only compared
    (int_tibber_manual_deviations). Incremental: the rebuilt meters only.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', none) }}",
) }}

with manual as (
    select * from {{ ref('int_readings_cleaned') }}
    where {{ rebuilt('meter_id', none) }}
),

tibber as (
    select * from {{ ref('int_tibber_counter') }}
    where {{ rebuilt('meter_id', none) }}
),

stretch as (
    select
        meter_id,
        min(reading_at) as first_at,
        max(reading_at) as last_at
    from tibber
    group by meter_id
)

select
    manual.meter_id,
    manual.measured_at as reading_at,
    manual.reading_value,
    'manual' as reading_source,
    false as is_estimated
from manual
left join stretch
    on
        manual.meter_id = stretch.meter_id
        and manual.measured_at between stretch.first_at and stretch.last_at
where stretch.meter_id is null
union all
select
    meter_id,
    reading_at,
    reading_value,
    'tibber' as reading_source,
    is_estimated
from tibber
