-- Every flat's occupancies cover every day of every billed period exactly
-- once.
with period_days as (
    select * from {{ ref('int_billing_period_days') }}
),

flats as (
    select * from {{ ref('stg_billing__flats') }}
),

occupancy_days as (
    select * from {{ ref('int_billing_occupancy_days') }}
),

occupancies as (
    select * from {{ ref('int_billing_occupancies') }}
),

covered as (
    select
        period_days.period,
        period_days.period_start,
        period_days.day,
        flats.flat_id,
        count(occupancy_days.occupancy_id) as occupancies,
        count(distinct occupancies.occupancy_id) as occupancy_ranges
    from period_days
    cross join flats
    left join occupancy_days
        on
            period_days.period = occupancy_days.period
            and period_days.period_start = occupancy_days.period_start
            and period_days.day = occupancy_days.day
            and flats.flat_id = occupancy_days.flat_id
    left join occupancies
        on
            period_days.period = occupancies.period
            and period_days.period_start = occupancies.period_start
            and flats.flat_id = occupancies.flat_id
            and period_days.day between occupancies.first_day
            and occupancies.last_day
    group by
        period_days.period,
        period_days.period_start,
        period_days.day,
        flats.flat_id
)

select * from covered
where occupancies != 1 or occupancy_ranges != 1
