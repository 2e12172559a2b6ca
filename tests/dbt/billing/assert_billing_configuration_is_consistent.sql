-- The billing seeds name only what exists and only what the rules know:
-- flats, meters, measures, prices, parents, amount sources and keys. One
-- row per problem, named by the seed row's key.
with flats as (
    select * from {{ ref('stg_billing__flats') }}
),

tenancies as (
    select * from {{ ref('stg_billing__tenancies') }}
),

flat_meters as (
    select * from {{ ref('stg_billing__flat_meters') }}
),

prices as (
    select * from {{ ref('stg_billing__prices') }}
),

items as (
    select * from {{ ref('stg_billing__cost_items') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

meters as (
    select * from {{ ref('stg_house__meters') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

measure_units as (
    select * from {{ ref('int_billing_measure_units') }}
),

-- Later branches of the union take the first branch's column names.
-- noqa: disable=AL03
problems as (
    select
        'tenancies.csv' as seed,
        tenancy_id as seed_row,
        'flat ' || coalesce(flat_id, 'null') || ' is not in flats.csv'
            as problem
    from tenancies
    where flat_id not in (select flat_id from flats) or flat_id is null
    union all
    select
        'tenancies.csv',
        tenancy_id,
        'ends_on ' || cast(ends_on as varchar) || ' is before starts_on '
        || coalesce(cast(starts_on as varchar), 'null')
    from tenancies
    where ends_on < starts_on or starts_on is null
    union all
    select
        'tenancies.csv',
        tenancy_id,
        'persons must be 0 or more'
    from tenancies
    where persons < 0 or persons is null
    union all
    select
        'flats.csv',
        flat_id,
        'living_area_m2 must be a positive area'
    from flats
    where living_area_m2 is null or living_area_m2 <= 0
    union all
    select
        'flat_meters.csv',
        flat_id || ' ' || meter_id,
        'flat ' || flat_id || ' is not in flats.csv'
    from flat_meters
    where flat_id not in (select flat_id from flats)
    union all
    select
        'flat_meters.csv',
        flat_id || ' ' || meter_id,
        'meter ' || meter_id || ' is not in meters.csv'
    from flat_meters
    where meter_id not in (select meter_id from meters)
    union all
    select
        'flat_meters.csv',
        flat_meters.flat_id || ' ' || flat_meters.meter_id,
        'meter ' || flat_meters.meter_id || ' counts ' || meters.unit
        || ', which does not convert to ' || measure_units.unit
        || ', the unit of measure ' || flat_meters.measure
    from flat_meters
    inner join meters on flat_meters.meter_id = meters.meter_id
    inner join measure_units on flat_meters.measure = measure_units.measure
    left join conversions
        on
            meters.unit = conversions.from_unit
            and measure_units.unit = conversions.to_unit
    where conversions.factor is null
    union all
    select
        'prices.csv',
        price_id || ' ' || coalesce(cast(valid_from as varchar), 'null'),
        'valid_to is before valid_from, or a column is empty'
    from prices
    where
        valid_to < valid_from or valid_from is null or unit is null
        or unit_price_eur is null
    union all
    select
        'cost_items.csv',
        cost_item,
        'amount_source ' || coalesce(amount_source, 'null')
        || ' is not meter, invoice, split or metered_flats'
    from items
    where
        amount_source not in ('meter', 'invoice', 'split', 'metered_flats')
        or amount_source is null
    union all
    select
        'cost_items.csv',
        cost_item,
        'fixed_key ' || coalesce(fixed_key, 'null') || ' is not living_area,'
        || ' heated_area, persons or units'
    from items
    where
        (
            fixed_key not in ('living_area', 'heated_area', 'persons', 'units')
            or fixed_key is null
        )
        and cost_item not in (
            select split_items.parent_cost_item from items as split_items
            where split_items.parent_cost_item is not null
        )
    union all
    select
        'cost_items.csv',
        cost_item,
        'consumption_pct ' || cast(consumption_pct as varchar)
        || ' is not between 0 and 100'
    from items
    where consumption_pct < 0 or consumption_pct > 100
    union all
    select
        'cost_items.csv',
        cost_item,
        'measure ' || coalesce(measure, 'null')
        || ' is not a measure of flat_meters.csv'
    from items
    where
        (consumption_pct > 0 or amount_source = 'metered_flats')
        and (
            measure is null
            or measure not in (select measure from flat_meters)
        )
        and cost_item not in (
            select split_items.parent_cost_item from items as split_items
            where split_items.parent_cost_item is not null
        )
    union all
    select
        'cost_items.csv',
        cost_item,
        'meter ' || coalesce(meter_id, 'null') || ' is not in meters.csv'
    from items
    where
        amount_source in ('meter', 'split')
        and (meter_id is null or meter_id not in (select meter_id from meters))
    union all
    select
        'cost_items.csv',
        cost_item,
        'price ' || coalesce(price_id, 'null')
        || ' is neither in prices.csv nor tibber'
    from items
    where
        amount_source in ('meter', 'metered_flats')
        and (
            price_id is null
            or (
                price_id != 'tibber'
                and price_id not in (select price_id from prices)
            )
        )
    union all
    select
        'cost_items.csv',
        items.cost_item,
        'split parent ' || coalesce(items.parent_cost_item, 'null')
        || ' is not a cost item with its own amount'
    from items
    left join items as parents on items.parent_cost_item = parents.cost_item
    where
        items.amount_source = 'split'
        and (parents.cost_item is null or parents.amount_source = 'split')
    union all
    select
        'cost_items.csv',
        cost_item,
        'names parent ' || parent_cost_item || ' but its amount_source is '
        || coalesce(amount_source, 'null') || ', not split'
    from items
    where parent_cost_item is not null and amount_source != 'split'
    union all
    select
        'invoices.csv',
        cost_item || ' ' || coalesce(cast(starts_on as varchar), 'null'),
        'cost item ' || cost_item || ' is not an invoice item of cost_items.csv'
    from invoices
    where
        cost_item not in (
            select cost_item from items
            where amount_source = 'invoice'
        )
    union all
    select
        'invoices.csv',
        cost_item || ' ' || coalesce(cast(starts_on as varchar), 'null'),
        'ends_on is before starts_on, or a column is empty'
    from invoices
    where
        ends_on < starts_on or starts_on is null or ends_on is null
        or amount_eur is null
)

-- noqa: enable=AL03
select * from problems
