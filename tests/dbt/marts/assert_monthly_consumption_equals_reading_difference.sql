-- Monthly consumption (the sum of the month's days) equals the reading at
-- the next month's start minus the reading at this month's start, for every
-- complete month of a physical or master meter.
with months as (
    select * from {{ ref('meter_monthly_consumption') }}
    where
        meter_type in ('physical', 'master') and not is_partial
        and {{ tested_rows('meter_id', 'month_start_at', 'month_start_at') }}
),

readings as (
    select * from {{ ref('meter_monthly_readings') }}
    where {{ tested_rows('meter_id', 'month_start_at', 'month_start_at') }}
)

select
    months.meter_id,
    months.month,
    months.consumption,
    next_month.reading - this_month.reading as reading_difference
from months
inner join readings as this_month
    on
        months.meter_id = this_month.meter_id
        and months.month = this_month.month
inner join readings as next_month
    on
        months.meter_id = next_month.meter_id
        and months.month + interval 1 month = next_month.month
where
    abs(months.consumption - (next_month.reading - this_month.reading))
    > 1e-6 * greatest(abs(months.consumption), 1)
