{#-
    The consumption a priced cost item pays for, per meter and day,
    converted to its price's unit and priced at that day's price: the
    item's own meter (amount_source meter, flat_id empty) or every flat's
    meters of the item's measure (metered_flats). A day before a meter's
    installation consumes 0. measure_consumption is the same consumption
    in the unit of the measure (metered_flats bases).
-#}
with items as (
    select * from {{ ref('stg_billing__cost_items') }}
    where amount_source in ('meter', 'metered_flats')
),

flat_meters as (
    select * from {{ ref('stg_billing__flat_meters') }}
),

measure_units as (
    select * from {{ ref('int_billing_measure_units') }}
),

prices as (
    select * from {{ ref('int_billing_item_prices_daily') }}
),

meters as (
    select * from {{ ref('stg_house__meters') }}
),

meter_days as (
    select * from {{ ref('meter_daily_consumption') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

priced_meters as (
    select
        cost_item,
        meter_id,
        cast(null as varchar) as flat_id,
        cast(null as varchar) as measure
    from items
    where amount_source = 'meter'
    union all
    select
        items.cost_item,
        flat_meters.meter_id,
        flat_meters.flat_id,
        items.measure
    from items
    inner join flat_meters on items.measure = flat_meters.measure
    where items.amount_source = 'metered_flats'
),

priced as (
    select
        priced_meters.cost_item,
        priced_meters.flat_id,
        priced_meters.meter_id,
        prices.day,
        coalesce(meter_days.consumption, 0.0) as meter_consumption,
        coalesce(meter_days.is_estimated, false) as is_estimated,
        coalesce(meter_days.consumption, 0.0) * to_price.factor
            as price_consumption,
        coalesce(meter_days.consumption, 0.0) * to_measure.factor
            as measure_consumption,
        prices.unit_price_eur
    from priced_meters
    inner join prices on priced_meters.cost_item = prices.cost_item
    inner join meters on priced_meters.meter_id = meters.meter_id
    left join meter_days
        on
            priced_meters.meter_id = meter_days.meter_id
            and prices.day = meter_days.day
    left join conversions as to_price
        on meters.unit = to_price.from_unit and prices.unit = to_price.to_unit
    left join measure_units on priced_meters.measure = measure_units.measure
    left join conversions as to_measure
        on
            meters.unit = to_measure.from_unit
            and measure_units.unit = to_measure.to_unit
)

select
    *,
    price_consumption * unit_price_eur as amount_eur
from priced
