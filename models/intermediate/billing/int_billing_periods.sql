{#-
    The periods billed: every calendar year and every month that ended
    before the as_of day, from the first year with a tenancy on. Years are
    the statements; months are the running costs for watching.
-#}
with tenancies as (
    select * from {{ ref('stg_billing__tenancies') }}
),

bounds as (
    select
        cast(date_trunc('year', min(starts_on)) as date) as first_day,
        {{ local_date(as_of()) }} as as_of_day
    from tenancies
    having min(starts_on) is not null
),

months as (
    select
        bounds.as_of_day,
        cast(unnest(generate_series(
            bounds.first_day, bounds.as_of_day, interval 1 month
        )) as date) as month_start
    from bounds
),

periods as (
    select
        'month' as period,
        month_start as period_start,
        cast(month_start + interval 1 month as date) - 1 as period_end,
        as_of_day
    from months
    union all
    select
        'year' as period,
        month_start as period_start,
        cast(month_start + interval 1 year as date) - 1 as period_end,
        as_of_day
    from months
    where month(month_start) = 1
)

select
    period,
    period_start,
    period_end,
    year(period_start) as year,  -- noqa: RF04
    period_end - period_start + 1 as period_days
from periods
where period_end < as_of_day
