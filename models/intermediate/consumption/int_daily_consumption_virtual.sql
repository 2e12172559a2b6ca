{#-
    Daily consumption of virtual meters: the base component's consumption
    minus the subtract components', each converted to the virtual meter's
    unit, for every day the base has inside the virtual meter's life. A
    subtract component without a row that day (not yet installed) counts 0.
    Never clipped at zero: base = parts + remainder must hold for cost splits.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', 'day_start_at') }}",
) }}

with components as (
    select * from {{ ref('stg_house__virtual_meter_components') }}
),

virtual_meters as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_type = 'virtual'
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

component_days as (
    {{ rebuilt_rows(
        ref('int_daily_consumption_physical'), 'day_start_at', meters='read'
    ) }}
    union all
    {{ rebuilt_rows(
        ref('int_daily_consumption_master'), 'day_start_at', meters='read'
    ) }}
),

converted as (
    select
        components.meter_id,
        components.component_role,
        component_days.day,
        component_days.day_start_at,
        component_days.consumption * conversions.factor as consumption,
        component_days.is_estimated,
        component_days.is_partial,
        component_days.is_measurement_backed
    from components
    inner join virtual_meters on components.meter_id = virtual_meters.meter_id
    inner join conversions
        on
            components.component_unit = conversions.from_unit
            and virtual_meters.unit = conversions.to_unit
    inner join component_days
        on components.component_meter_id = component_days.meter_id
    where
        component_days.day_start_at >= virtual_meters.installed_at
        and component_days.day_start_at < virtual_meters.life_end_at
        and {{ rebuilt('components.meter_id', 'component_days.day_start_at') }}
)

select
    meter_id,
    day,
    min(day_start_at) as day_start_at,
    sum(
        case when component_role = 'base' then consumption else -consumption end
    ) as consumption,
    bool_or(is_estimated) as is_estimated,
    bool_or(is_partial) as is_partial,
    bool_and(is_measurement_backed) as is_measurement_backed
from converted
group by meter_id, day
having count(*) filter (where component_role = 'base') = 1
