{{ config(materialized='view', tags=['static']) }}
{#- Daily consumption of every meter: physical, master and virtual. -#}
with physical as (
    select * from {{ ref('int_daily_consumption_physical') }}
),

master as (
    select * from {{ ref('int_daily_consumption_master') }}
),

virtual as (
    select * from {{ ref('int_daily_consumption_virtual') }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

unioned as (
    select * from physical
    union all
    select * from master
    union all
    select * from virtual
)

select
    unioned.meter_id,
    meters.meter_type,
    meters.unit,
    unioned.day,
    unioned.day_start_at,
    unioned.consumption,
    unioned.is_estimated,
    unioned.is_partial,
    unioned.is_measurement_backed
from unioned
inner join meters on unioned.meter_id = meters.meter_id
where unioned.day_start_at < meters.removed_at or meters.removed_at is null
