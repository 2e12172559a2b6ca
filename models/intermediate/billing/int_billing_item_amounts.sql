{#-
    The amount of every cost item for every billed period:
    - meter: the meter's consumption of each day, in the price's unit,
      times that day's price; plus each day's base fee (the yearly fee /
      the days of that calendar year);
    - metered_flats: the same over the flats' meters of the item's measure,
      the base fee once per day for the item;
    - invoice: each invoice spread evenly over its days, the period getting
      the days it overlaps;
    - split: the parent's amount times the child's meter consumption over
      the period (in the parent meter's unit) / all children's (equal
      shares when the children consumed nothing). A parent with children
      is not allocated itself (is_parent).
-#}
with items as (
    select * from {{ ref('stg_billing__cost_items') }}
),

periods as (
    select * from {{ ref('int_billing_periods') }}
),

period_days as (
    select * from {{ ref('int_billing_period_days') }}
),

priced as (
    select * from {{ ref('int_billing_priced_consumption') }}
),

prices as (
    select * from {{ ref('int_billing_item_prices_daily') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
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

priced_sums as (
    select
        period_days.period,
        period_days.period_start,
        priced.cost_item,
        sum(priced.amount_eur) as priced_eur,
        bool_or(priced.is_estimated) as is_estimated
    from priced
    inner join period_days on priced.day = period_days.day
    group by period_days.period, period_days.period_start, priced.cost_item
),

base_fees as (
    select
        period_days.period,
        period_days.period_start,
        prices.cost_item,
        sum(prices.base_fee_eur) as base_fee_eur
    from prices
    inner join period_days on prices.day = period_days.day
    group by period_days.period, period_days.period_start, prices.cost_item
),

invoice_sums as (
    select
        period_days.period,
        period_days.period_start,
        invoices.cost_item,
        sum(
            invoices.amount_eur / (invoices.ends_on - invoices.starts_on + 1)
        ) as invoice_eur
    from invoices
    inner join period_days
        on period_days.day between invoices.starts_on and invoices.ends_on
    group by period_days.period, period_days.period_start, invoices.cost_item
),

own_amounts as (
    select
        periods.period,
        periods.period_start,
        periods.year,
        items.cost_item,
        items.amount_source,
        coalesce(priced_sums.priced_eur, 0.0) as priced_eur,
        coalesce(base_fees.base_fee_eur, 0.0) as base_fee_eur,
        coalesce(invoice_sums.invoice_eur, 0.0) as invoice_eur,
        coalesce(priced_sums.is_estimated, false) as is_estimated
    from periods
    cross join items
    left join priced_sums
        on
            periods.period = priced_sums.period
            and periods.period_start = priced_sums.period_start
            and items.cost_item = priced_sums.cost_item
    left join base_fees
        on
            periods.period = base_fees.period
            and periods.period_start = base_fees.period_start
            and items.cost_item = base_fees.cost_item
    left join invoice_sums
        on
            periods.period = invoice_sums.period
            and periods.period_start = invoice_sums.period_start
            and items.cost_item = invoice_sums.cost_item
    where items.amount_source != 'split'
),

own_totals as (
    select
        own_amounts.period,
        own_amounts.period_start,
        own_amounts.year,
        own_amounts.cost_item,
        own_amounts.amount_source,
        own_amounts.priced_eur,
        own_amounts.base_fee_eur,
        own_amounts.invoice_eur,
        own_amounts.priced_eur + own_amounts.base_fee_eur
        + own_amounts.invoice_eur as amount_eur,
        cast(null as double) as split_consumption,
        cast(null as double) as split_total,
        own_amounts.is_estimated
    from own_amounts
),

children as (
    select
        items.cost_item,
        items.parent_cost_item,
        items.meter_id,
        child_meters.unit as child_unit,
        coalesce(parent_meters.unit, child_meters.unit) as parent_unit
    from items
    inner join items as parents on items.parent_cost_item = parents.cost_item
    inner join meters as child_meters on items.meter_id = child_meters.meter_id
    left join meters as parent_meters
        on parents.meter_id = parent_meters.meter_id
    where items.amount_source = 'split'
),

child_days as (
    select
        period_days.period,
        period_days.period_start,
        children.cost_item,
        sum(meter_days.consumption * conversions.factor) as consumption,
        bool_or(meter_days.is_estimated) as is_estimated
    from children
    inner join meter_days on children.meter_id = meter_days.meter_id
    inner join period_days on meter_days.day = period_days.day
    inner join conversions
        on
            children.child_unit = conversions.from_unit
            and children.parent_unit = conversions.to_unit
    group by period_days.period, period_days.period_start, children.cost_item
),

child_consumption as (
    select
        periods.period,
        periods.period_start,
        periods.year,
        children.cost_item,
        children.parent_cost_item,
        coalesce(child_days.consumption, 0.0) as consumption,
        coalesce(child_days.is_estimated, false) as is_estimated
    from periods
    cross join children
    left join child_days
        on
            periods.period = child_days.period
            and periods.period_start = child_days.period_start
            and children.cost_item = child_days.cost_item
),

child_shares as (
    select
        *,
        sum(consumption) over siblings as siblings_consumption,
        count(*) over siblings as siblings,
        bool_or(is_estimated) over siblings as siblings_estimated
    from child_consumption
    window siblings as (partition by period, period_start, parent_cost_item)
),

split_amounts as (
    select
        child_shares.period,
        child_shares.period_start,
        child_shares.year,
        child_shares.cost_item,
        'split' as amount_source,
        0.0 as priced_eur,
        0.0 as base_fee_eur,
        0.0 as invoice_eur,
        parents.amount_eur * case
            when child_shares.siblings_consumption = 0
                then 1.0 / child_shares.siblings
            else child_shares.consumption / child_shares.siblings_consumption
        end as amount_eur,
        child_shares.consumption as split_consumption,
        child_shares.siblings_consumption as split_total,
        parents.is_estimated or child_shares.siblings_estimated as is_estimated
    from child_shares
    inner join own_totals as parents
        on
            child_shares.period = parents.period
            and child_shares.period_start = parents.period_start
            and child_shares.parent_cost_item = parents.cost_item
),

unioned as (
    select * from own_totals
    union all
    select * from split_amounts
)

select
    unioned.*,
    exists(
        select split_children.cost_item from items as split_children
        where
            split_children.parent_cost_item = unioned.cost_item
            and split_children.amount_source = 'split'
    ) as is_parent
from unioned
