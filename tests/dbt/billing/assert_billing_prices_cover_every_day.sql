-- Every priced cost item has a price on every billed day; the first day
-- without one is named per cost item.
with prices as (
    select * from {{ ref('int_billing_item_prices_daily') }}
)

select
    cost_item,
    price_id,
    min(day) as first_day_without_price,
    'cost item ' || cost_item || ' has no price ' || coalesce(price_id, 'null')
    || ' on ' || cast(min(day) as varchar)
    || ' (and ' || cast(count(*) - 1 as varchar) || ' more days): '
    || case
        when price_id = 'tibber'
            then 'Tibber reported no cost or consumption that day'
        else 'add a row to prices.csv valid that day'
    end as problem
from prices
where unit_price_eur is null or base_fee_eur is null
group by cost_item, price_id
