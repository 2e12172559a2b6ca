-- Every virtual day equals its base component's consumption minus its
-- subtracted components', converted, recomputed from the published marts.
with days as (
    select * from {{ ref('meter_daily_consumption') }}
),

components as (
    select * from {{ ref('stg_house__virtual_meter_components') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

virtual_days as (
    select * from days
    where
        meter_type = 'virtual'
        and {{ tested_rows('meter_id', 'day_start_at') }}
),

-- The components' days from the first tested day on: a constant bound, so
-- an incremental build's test reads the latest days, not ten years.
component_days as (
    select * from days
    where
        meter_id in (select component_meter_id from components)
        and {{ tested_since('day_start_at') }}
),

recomputed as (
    select
        virtual_days.meter_id,
        virtual_days.day,
        any_value(virtual_days.consumption) as consumption,
        sum(
            case
                when components.component_role = 'base'
                    then component_days.consumption * conversions.factor
                else -component_days.consumption * conversions.factor
            end
        ) as expected
    from virtual_days
    inner join components on virtual_days.meter_id = components.meter_id
    inner join conversions
        on
            components.component_unit = conversions.from_unit
            and virtual_days.unit = conversions.to_unit
    left join component_days
        on
            components.component_meter_id = component_days.meter_id
            and virtual_days.day = component_days.day
    group by virtual_days.meter_id, virtual_days.day
)

select * from recomputed
where abs(consumption - expected) > 1e-9 * greatest(abs(expected), 1)
