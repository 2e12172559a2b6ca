{#-
    The Tibber meter's counter at each hour boundary of the Tibber stretch.
    Anchor: the latest cleaned manual reading at or before the first hour's
    start; when there is none, the first manual reading (counting back);
    with no manual reading at all, 0 at the first hour's start. The counter at
    instant t is the anchor value plus the hours' consumption between the
    anchor's instant and t (the hour containing the anchor counts pro rata).
-#}
with hours as (
    select * from {{ ref('int_tibber_hours_filled') }}
),

manual as (
    select * from {{ ref('int_readings_cleaned') }}
    where meter_id = '{{ var("tibber_meter_id") }}'
),

stretch as (
    select min(hour_start_at) as first_hour_at
    from hours
),

anchor_candidates as (
    select
        manual.measured_at as anchor_at,
        manual.reading_value as anchor_value,
        case
            when manual.measured_at <= stretch.first_hour_at
                then
                    row_number() over (
                        partition by manual.measured_at <= stretch.first_hour_at
                        order by manual.measured_at desc
                    )
        end as rank_before,
        row_number() over (order by manual.measured_at) as rank_overall
    from manual
    cross join stretch
),

anchor as (
    select
        coalesce(
            max(anchor_at) filter (where rank_before = 1),
            max(anchor_at) filter (where rank_overall = 1),
            (select first_hour_at from stretch)
        ) as anchor_at,
        coalesce(
            max(anchor_value) filter (where rank_before = 1),
            max(anchor_value) filter (where rank_overall = 1),
            0
        ) as anchor_value
    from anchor_candidates
),

cumulative as (
    select
        hour_start_at,
        hour_end_at,
        consumption_kwh,
        is_estimated,
        sum(consumption_kwh) over (
            order by hour_start_at
            rows between unbounded preceding and current row
        ) as kwh_to_end
    from hours
),

anchor_offset as (
    select
        anchor.anchor_at,
        anchor.anchor_value,
        coalesce(
            (
                select
                    max(
                        cumulative.kwh_to_end - cumulative.consumption_kwh
                        + cumulative.consumption_kwh * (
                            epoch(anchor.anchor_at)
                            - epoch(cumulative.hour_start_at)
                        ) / 3600.0
                    ) as kwh_to_anchor
                from cumulative
                where
                    cumulative.hour_start_at <= anchor.anchor_at
                    and cumulative.hour_end_at > anchor.anchor_at
            ),
            case
                when
                    anchor.anchor_at
                    >= (select max(hour_end_at) as last_end_at from hours)
                    then (select max(kwh_to_end) as total_kwh from cumulative)
                else 0
            end
        ) as kwh_to_anchor
    from anchor
),

boundaries as (
    select
        hour_start_at as reading_at,
        kwh_to_end - consumption_kwh as kwh_to_instant,
        false as is_estimated
    from cumulative
    where hour_start_at = (select first_hour_at from stretch)
    union all
    select
        hour_end_at as reading_at,
        kwh_to_end as kwh_to_instant,
        is_estimated
    from cumulative
)

select
    '{{ var("tibber_meter_id") }}' as meter_id,
    boundaries.reading_at,
    anchor_offset.anchor_value
    + boundaries.kwh_to_instant
    - anchor_offset.kwh_to_anchor as reading_value,
    boundaries.is_estimated
from boundaries
cross join anchor_offset
