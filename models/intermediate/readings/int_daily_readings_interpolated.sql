{#-
    The counter of every physical meter at the start of every local day of its
    installed life up to as_of, and at the end of its life when that is not a
    local midnight (as_of during the day: row with day null). Each segment of
    int_reading_segments is expanded into the local midnights it contains,
    so cost grows with meters x days, and the counter comes from the segment's
    rule. A midnight at which a reading was taken gets that reading exactly.
    Each row also carries the instant that ends its day for consumption (the
    next midnight, or the end of life) and, when that instant still lies
    inside the same segment, the counter there (next_value_in_segment); the
    few days that contain a reading leave it null and take the next row's
    reading instead. So daily consumption needs no window over all days.
    Counters are rounded to 1e-9 of their unit, far below any meter's
    resolution, so results do not depend on float noise.
-#}
with segments as (
    select * from {{ ref('int_reading_segments') }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

segment_days as (
    select
        segments.*,
        cast(unnest(generate_series(
            {{ local_date('segments.segment_start_at') }},
            {{ local_date('segments.segment_end_at') }},
            interval 1 day
        )) as date) as day
    from segments
),

day_starts as (
    select
        segment_days.*,
        calendar.day_start_at as reading_at,
        least(calendar.day_end_at, segment_days.life_end_at) as next_at,
        calendar.day_end_at > segment_days.life_end_at as is_partial_day,
        weights.weight_at_day_start as reading_weight,
        case
            when calendar.day_end_at <= segment_days.life_end_at
                then weights.weight_at_day_end
            else
                weights.weight_at_day_start + weights.density_per_day * (
                    epoch_us(segment_days.life_end_at)
                    - epoch_us(calendar.day_start_at)
                ) / 86400000000.0
        end as next_weight
    from segment_days
    inner join calendar on segment_days.day = calendar.day
    left join weights
        on
            segment_days.pattern_id = weights.pattern_id
            and segment_days.day = weights.day
    where
        calendar.day_start_at >= segment_days.segment_start_at
        and (
            calendar.day_start_at < segment_days.segment_end_at
            or (
                segment_days.segment_kind = 'after_last'
                and calendar.day_start_at = segment_days.segment_end_at
            )
        )
),

life_ends as (
    select
        segments.*,
        null::date as day,
        segments.segment_end_at as reading_at,
        null::timestamptz as next_at,
        null::boolean as is_partial_day,
        weights.weight_at_day_start + weights.density_per_day * (
            epoch_us(segments.segment_end_at) - epoch_us(weights.day_start_at)
        ) / 86400000000.0 as reading_weight,
        null::double as next_weight
    from segments
    left join weights
        on
            segments.pattern_id = weights.pattern_id
            and {{ local_date('segments.segment_end_at') }} = weights.day
    where
        segments.segment_kind = 'after_last'
        and segments.segment_end_at
        <> {{ local_midnight(local_date('segments.segment_end_at')) }}
),

instants as (
    select * from day_starts
    union all
    select * from life_ends
),

weighed as (
    select
        *,
        case
            when is_seasonal then reading_weight - anchor_weight
            else
                (epoch_us(reading_at) - epoch_us(anchor_at)) / 86400000000.0
        end as weight_since_anchor,
        case
            when is_seasonal then next_weight - anchor_weight
            else (epoch_us(next_at) - epoch_us(anchor_at)) / 86400000000.0
        end as next_weight_since_anchor,
        next_at < segment_end_at or segment_kind = 'after_last'
            as is_next_in_segment
    from instants
)

select
    meter_id,
    day,
    reading_at,
    case
        when reading_at = anchor_at then anchor_value
        else {{ segment_counter('weight_since_anchor') }}
    end as reading_value,
    case
        when reading_at = anchor_at then 'measured'
        when segment_kind <> 'between' then 'estimated'
        when is_seasonal then 'seasonal'
        else 'interpolated'
    end as reading_method,
    previous_reading_at,
    next_reading_at,
    next_at,
    case
        when is_next_in_segment
            then {{ segment_counter('next_weight_since_anchor') }}
    end as next_value_in_segment,
    segment_kind <> 'between' as is_next_estimated,
    is_partial_day
from weighed
