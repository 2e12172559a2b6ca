{#-
    The consumption basis of every occupancy and measure: its flat's
    consumption of the measure (the sum over the flat's meters of that
    measure, in the measure's unit) on the occupancy's days. A day's
    consumption runs from its local midnight to the next, so a tenancy
    ending on the 14th counts up to the midnight that ends the 14th.
-#}
with occupancy_days as (
    select * from {{ ref('int_billing_occupancy_days') }}
),

flat_meters as (
    select * from {{ ref('stg_billing__flat_meters') }}
),

measure_units as (
    select * from {{ ref('int_billing_measure_units') }}
),

meters as (
    select * from {{ ref('stg_house__meters') }}
),

meter_days as (
    select * from {{ ref('meter_daily_consumption') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
)

select
    occupancy_days.period,
    occupancy_days.period_start,
    occupancy_days.occupancy_id,
    flat_meters.measure,
    measure_units.unit,
    sum(coalesce(meter_days.consumption, 0.0) * conversions.factor) as basis,
    coalesce(bool_or(meter_days.is_estimated), false) as is_estimated
from occupancy_days
inner join flat_meters on occupancy_days.flat_id = flat_meters.flat_id
inner join meters on flat_meters.meter_id = meters.meter_id
inner join measure_units on flat_meters.measure = measure_units.measure
inner join conversions
    on
        meters.unit = conversions.from_unit
        and measure_units.unit = conversions.to_unit
left join meter_days
    on
        flat_meters.meter_id = meter_days.meter_id
        and occupancy_days.day = meter_days.day
group by
    occupancy_days.period,
    occupancy_days.period_start,
    occupancy_days.occupancy_id,
    flat_meters.measure,
    measure_units.unit
