{#-
    The price of every priced cost item (amount_source meter or
    metered_flats) on every billed day: the seed's period valid that day,
    or for price_id tibber, Tibber's cost of the day divided by the Tibber
    meter's consumption of the day (no base fee). unit_price_eur is null on
    a day without a valid price (a configuration error,
    assert_billing_prices_cover_every_day).
-#}
with items as (
    select * from {{ ref('stg_billing__cost_items') }}
    where amount_source in ('meter', 'metered_flats')
),

days as (
    select distinct
        day,
        days_in_year
    from {{ ref('int_billing_period_days') }}
),

seed_prices as (
    select * from {{ ref('stg_billing__prices') }}
),

tibber_cost as (
    select * from {{ ref('electricity_daily_cost') }}
),

tibber_meter_days as (
    select * from {{ ref('meter_daily_consumption') }}
    where meter_id = '{{ var("tibber_meter_id") }}'
),

tibber_prices as (
    select
        'tibber' as price_id,
        tibber_cost.day,
        'kWh' as unit,
        tibber_cost.cost / tibber_meter_days.consumption as unit_price_eur,
        0.0 as base_fee_eur_per_year
    from tibber_cost
    inner join tibber_meter_days on tibber_cost.day = tibber_meter_days.day
    where tibber_meter_days.consumption > 0
),

daily_prices as (
    select
        seed_prices.price_id,
        days.day,
        seed_prices.unit,
        seed_prices.unit_price_eur,
        seed_prices.base_fee_eur_per_year
    from seed_prices
    inner join days
        on
            seed_prices.valid_from <= days.day
            and (
                seed_prices.valid_to >= days.day or seed_prices.valid_to is null
            )
    where seed_prices.price_id != 'tibber'
    union all
    select * from tibber_prices
)

select
    items.cost_item,
    items.price_id,
    days.day,
    daily_prices.unit,
    daily_prices.unit_price_eur,
    daily_prices.base_fee_eur_per_year / days.days_in_year as base_fee_eur
from items
cross join days
left join daily_prices
    on items.price_id = daily_prices.price_id and days.day = daily_prices.day
