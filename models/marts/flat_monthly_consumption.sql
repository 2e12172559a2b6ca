{#-
    Each unit's consumption per measure and local month (the sum of its
    meters of the measure, in the measure's unit), for the statement's chart
    of a year's months against the previous year's. Months of the billed
    years and the year before the first.
-#}
with flat_meters as (
    select * from {{ ref('stg_billing__flat_meters') }}
),

measure_units as (
    select * from {{ ref('int_billing_measure_units') }}
),

meters as (
    select * from {{ ref('stg_house__meters') }}
),

months as (
    select * from {{ ref('meter_monthly_consumption') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

years as (
    select
        min(year) - 1 as first_year,
        max(year) as last_year
    from {{ ref('int_billing_periods') }}
    where period = 'year'
)

select
    flat_meters.flat_id,
    flat_meters.measure,
    measure_units.unit,
    months.month,
    sum(months.consumption * conversions.factor) as consumption,
    bool_or(months.is_estimated) as is_estimated
from flat_meters
inner join meters on flat_meters.meter_id = meters.meter_id
inner join measure_units on flat_meters.measure = measure_units.measure
inner join conversions
    on
        meters.unit = conversions.from_unit
        and measure_units.unit = conversions.to_unit
inner join months on flat_meters.meter_id = months.meter_id
inner join
    years
    on year(months.month) between years.first_year and years.last_year
group by
    flat_meters.flat_id, flat_meters.measure, measure_units.unit, months.month
