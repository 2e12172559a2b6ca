{#-
    Every local day from the first installation to the day after as_of: its
    UTC start and end (23, 24 or 25 hours later) and its month.
-#}
with bounds as (
    select
        min(installed_on) - 400 as first_day,
        {{ local_date(as_of()) }} + 1 as last_day
    from {{ ref('stg_house__meters') }}
),

days as (
    select
        cast(
            unnest(generate_series(first_day, last_day, interval 1 day))
            as date
        ) as day
    from bounds
),

instants as (
    select
        day,
        {{ local_midnight('day') }} as day_start_at,
        {{ local_midnight('day + 1') }} as day_end_at,
        cast(date_trunc('month', day) as date) as month,
        month(day) as month_number
    from days
)

select
    day,
    day_start_at,
    day_end_at,
    month,
    month_number,
    {{ local_midnight('month') }} as month_start_at,
    {{ local_midnight("month + interval 1 month") }} as month_end_at
from instants
