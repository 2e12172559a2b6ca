{#-
    Who occupied each flat on each day of each period: the tenancy covering
    the day, or a vacancy (no tenancy; borne by the owner). A vacancy is
    one stretch of consecutive days without a tenancy inside the period,
    named vacant-<flat_id>-<its first day>.
-#}
with period_days as (
    select * from {{ ref('int_billing_period_days') }}
),

flats as (
    select * from {{ ref('stg_billing__flats') }}
),

tenancies as (
    select * from {{ ref('stg_billing__tenancies') }}
),

flat_days as (
    select
        period_days.period,
        period_days.period_start,
        period_days.year,
        period_days.day,
        period_days.days_in_month,
        flats.flat_id
    from period_days
    cross join flats
),

occupied as (
    select
        flat_days.*,
        tenancies.tenancy_id,
        tenancies.tenant,
        tenancies.persons,
        tenancies.monthly_prepayment_eur
    from flat_days
    left join tenancies
        on
            flat_days.flat_id = tenancies.flat_id
            and flat_days.day >= tenancies.starts_on
            and (
                flat_days.day <= tenancies.ends_on or tenancies.ends_on is null
            )
),

-- Consecutive days of one flat without a tenancy share day - position.
islands as (
    select
        *,
        day - cast(row_number() over (
            partition by period, period_start, flat_id, tenancy_id is null
            order by day
        ) as integer) as island
    from occupied
),

stretches as (
    select
        *,
        min(day) over (
            partition by period, period_start, flat_id, tenancy_id, island
        ) as stretch_start
    from islands
)

select
    period,
    period_start,
    year,
    day,
    days_in_month,
    flat_id,
    coalesce(
        tenancy_id,
        'vacant-' || flat_id || '-' || strftime(stretch_start, '%Y-%m-%d')
    ) as occupancy_id,
    tenancy_id,
    tenant,
    tenancy_id is null as is_vacancy,
    coalesce(persons, 0) as persons,
    coalesce(monthly_prepayment_eur, 0.0) as monthly_prepayment_eur
from stretches
