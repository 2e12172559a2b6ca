{#-
    Cumulative seasonal weight W per pattern at each local day's start. The
    weight density during month m is share_m / duration of month m, so a whole
    month accumulates exactly share_m and a year accumulates 1. Density is per
    day of elapsed time: W(t) = W(day start) + density * elapsed days.
    W is rounded to 1e-12, so results do not depend on float noise; the
    weight at a day's end equals the next day's weight at its start.
-#}
with shares as (
    select distinct
        pattern_id,
        month_number,
        share
    from {{ ref('int_seasonal_shares_normalised') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

densities as (
    select
        shares.pattern_id,
        calendar.day,
        calendar.day_start_at,
        shares.share / (
            (
                epoch_us(calendar.month_end_at)
                - epoch_us(calendar.month_start_at)
            ) / 86400000000.0
        ) as density_per_day,
        (epoch_us(calendar.day_end_at) - epoch_us(calendar.day_start_at))
        / 86400000000.0 as day_length_days
    from calendar
    inner join shares on calendar.month_number = shares.month_number
),

cumulative as (
    select
        pattern_id,
        day,
        day_start_at,
        density_per_day,
        density_per_day * day_length_days as day_weight,
        round(
            coalesce(
                sum(density_per_day * day_length_days) over (
                    partition by pattern_id
                    order by day
                    rows between unbounded preceding and 1 preceding
                ),
                0
            ),
            12
        ) as weight_at_day_start,
        round(
            sum(density_per_day * day_length_days) over (
                partition by pattern_id
                order by day
                rows between unbounded preceding and current row
            ),
            12
        ) as weight_at_day_end
    from densities
)

select * from cumulative
