{#-
    One row per occupancy and period: its days, persons, key values and
    prepayments (monthly_prepayment_eur for each month, pro rata by days in
    a partly occupied month).
-#}
with occupancy_days as (
    select * from {{ ref('int_billing_occupancy_days') }}
),

flats as (
    select * from {{ ref('stg_billing__flats') }}
),

-- Per month first: a full month prepays exactly its monthly amount.
occupancy_months as (
    select
        period,
        period_start,
        year,
        occupancy_id,
        flat_id,
        any_value(tenancy_id) as tenancy_id,
        any_value(tenant) as tenant,
        bool_and(is_vacancy) as is_vacancy,
        min(day) as first_day,
        max(day) as last_day,
        count(*) as days,  -- noqa: RF04
        sum(persons) as person_days,
        sum(monthly_prepayment_eur) / any_value(days_in_month)
            as prepayments_eur
    from occupancy_days
    group by
        period,
        period_start,
        year,
        occupancy_id,
        flat_id,
        date_trunc('month', day)
),

occupancies as (
    select
        period,
        period_start,
        year,
        occupancy_id,
        flat_id,
        any_value(tenancy_id) as tenancy_id,
        any_value(tenant) as tenant,
        bool_and(is_vacancy) as is_vacancy,
        min(first_day) as first_day,
        max(last_day) as last_day,
        sum(days) as days,  -- noqa: RF04
        sum(person_days) as person_days,
        sum(prepayments_eur) as prepayments_eur
    from occupancy_months
    group by period, period_start, year, occupancy_id, flat_id
)

select
    occupancies.*,
    flats.flat_name,
    flats.living_area_m2,
    flats.heated_area_m2
from occupancies
inner join flats on occupancies.flat_id = flats.flat_id
