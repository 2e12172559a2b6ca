{{ config(materialized='view', tags=['static']) }}
with physical as (
    select
        meter_id,
        day,
        reading_at,
        reading_value,
        reading_method
    from {{ ref('int_daily_readings_interpolated') }}
    where day is not null
),

master as (
    select
        meter_id,
        day,
        reading_at,
        reading_value,
        reading_method
    from {{ ref('int_master_readings_combined') }}
    where day is not null
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

unioned as (
    select * from physical
    union all
    select * from master
)

select
    unioned.meter_id,
    meters.meter_type,
    meters.unit,
    unioned.day,
    unioned.reading_at as day_start_at,
    unioned.reading_value as reading,
    unioned.reading_method,
    unioned.reading_method = 'estimated' as is_estimated
from unioned
inner join meters on unioned.meter_id = meters.meter_id
where meters.removed_at is null or unioned.reading_at < meters.removed_at
