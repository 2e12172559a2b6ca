-- Monthly consumption equals the sum of the month's daily consumption.
with days as (
    select
        meter_id,
        cast(date_trunc('month', day) as date) as month,
        sum(consumption) as consumption
    from {{ ref('meter_daily_consumption') }}
    where {{ tested_rows('meter_id', 'day_start_at', 'month_start_at') }}
    group by meter_id, cast(date_trunc('month', day) as date)
)

select
    months.meter_id,
    months.month,
    months.consumption,
    days.consumption as sum_of_days
from (
    select * from {{ ref('meter_monthly_consumption') }}
    where {{ tested_rows('meter_id', 'month_start_at', 'month_start_at') }}
) as months
full outer join days
    on months.meter_id = days.meter_id and months.month = days.month
where
    months.meter_id is null
    or days.meter_id is null
    or abs(months.consumption - days.consumption)
    > 1e-9 * greatest(abs(days.consumption), 1)
