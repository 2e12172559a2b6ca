{#-
    Every local day of every billed period, with the length of its calendar
    year and month (base fees are spread over a year's days, prepayments
    over a month's).
-#}
with periods as (
    select * from {{ ref('int_billing_periods') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
)

select
    periods.period,
    periods.period_start,
    periods.year,
    calendar.day,
    calendar.day_start_at,
    calendar.month,
    dayofyear(cast(year(calendar.day) || '-12-31' as date)) as days_in_year,
    day(last_day(calendar.day)) as days_in_month
from periods
inner join calendar
    on calendar.day between periods.period_start and periods.period_end
