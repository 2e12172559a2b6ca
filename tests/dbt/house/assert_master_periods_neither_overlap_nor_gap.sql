-- Periods of one master meter follow each other day by day: each starts the
-- day after the previous one ends; only the last may be open.
with periods as (
    select
        meter_id,
        period_number,
        min(starts_on) as starts_on,
        max(ends_on) as ends_on,
        count(distinct starts_on) as start_variants,
        count(distinct coalesce(ends_on, date '9999-12-31')) as end_variants
    from {{ ref('stg_house__master_meter_periods') }}
    group by meter_id, period_number
),

sequenced as (
    select
        *,
        lag(ends_on) over (
            partition by meter_id order by period_number
        ) as previous_ends_on,
        lag(period_number) over (
            partition by meter_id order by period_number
        ) as previous_period,
        lead(period_number) over (
            partition by meter_id order by period_number
        ) as next_period
    from periods
)

select
    meter_id,
    period_number,
    case
        when start_variants > 1 or end_variants > 1
            then 'the sources of one period disagree on its dates'
        when ends_on < starts_on then 'ends before it starts'
        when ends_on is null and next_period is not null
            then 'is open but a later period follows'
        when previous_period is not null and starts_on <= previous_ends_on
            then 'overlaps period ' || previous_period
        when previous_period is not null and starts_on > previous_ends_on + 1
            then 'leaves a gap after period ' || previous_period
    end as problem
from sequenced
where
    start_variants > 1
    or end_variants > 1
    or ends_on < starts_on
    or (ends_on is null and next_period is not null)
    or (previous_period is not null and starts_on <> previous_ends_on + 1)
