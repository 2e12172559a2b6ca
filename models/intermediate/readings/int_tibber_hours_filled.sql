{#-
    The Tibber meter's hours inside its installed life, on a gap-free hourly
    grid from its first to its last reported hour: the hours of
    TIBBER_HOME_ID, or of every home of the account when it is unset (added
    up), each as its latest extraction (base_landing__tibber_hours) has it.
    A missing hour (no row, or null consumption) is estimated as the mean of
    the nearest reported hours before and after it.
-#}
with hours as (
    select * from {{ ref('base_landing__tibber_hours') }}
    {%- if var('tibber_home_id') %}
        where home_id = '{{ var("tibber_home_id") }}'
    {%- endif %}
),

meter as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_id = '{{ var("tibber_meter_id") }}'
),

reported as (
    select
        hours.hour_start_at,
        sum(hours.consumption_kwh) as consumption_kwh,
        count(hours.consumption_kwh) = count(*) as is_complete
    from hours
    inner join meter
        on
            hours.hour_start_at >= meter.installed_at
            and hours.hour_start_at + interval 1 hour <= meter.life_end_at
    group by hours.hour_start_at
),

known as (
    select * from reported
    where is_complete
),

grid as (
    select
        unnest(generate_series(
            min(hour_start_at), max(hour_start_at), interval 1 hour
        )) as hour_start_at
    from known
),

joined as (
    select
        grid.hour_start_at,
        known.consumption_kwh,
        last_value(known.consumption_kwh ignore nulls) over (
            order by grid.hour_start_at
            rows between unbounded preceding and 1 preceding
        ) as previous_kwh,
        first_value(known.consumption_kwh ignore nulls) over (
            order by grid.hour_start_at
            rows between 1 following and unbounded following
        ) as next_kwh
    from grid
    left join known on grid.hour_start_at = known.hour_start_at
)

select
    '{{ var("tibber_meter_id") }}' as meter_id,
    hour_start_at,
    hour_start_at + interval 1 hour as hour_end_at,
    coalesce(consumption_kwh, (previous_kwh + next_kwh) / 2)
        as consumption_kwh,
    consumption_kwh is null as is_estimated
from joined
