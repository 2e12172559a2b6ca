{#-
    The counter of every physical meter at the start of every local day of its
    installed life up to as_of, and at the end of its life when that is not a
    local midnight (as_of during the day: row with day null). Each segment of
    int_reading_segments is expanded into the local midnights it contains,
    so cost grows with meters x days, and the counter comes from the segment's
    rule. A midnight at which a reading was taken gets that reading exactly.
    Each day row also carries the counter at the instant that ends the day
    for consumption (next_at: the next midnight, or the end of life) as
    next_value: from the day's own segment when that instant lies inside it,
    else from the segment owning the day's end, found among the segments,
    never by a join over all days. So daily consumption needs neither a
    window nor a join over all days.
    Counters are rounded to 1e-9 of their unit, far below any meter's
    resolution, so results do not depend on float noise.
-#}
{%- set max_gap_us = var('anomaly_max_reading_gap_days') * 86400000000 -%}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', 'reading_at') }}",
) }}

with meters as (
    select * from {{ ref('int_meters_enriched') }}
),

-- The after_last segment ends at the meter's end of life. In an incremental
-- build: the rebuilt meters' segments, and every meter's segments that reach
-- into the rebuilt days.
segments as (
    select
        segments.* exclude (segment_end_at),
        case
            when segments.segment_kind = 'after_last' then meters.life_end_at
            else segments.segment_end_at
        end as segment_end_at,
        meters.life_end_at
    from {{ ref('int_reading_segments') }} as segments
    inner join meters on segments.meter_id = meters.meter_id
    where
        {{ rebuilt(
            'segments.meter_id',
            'coalesce(segments.segment_end_at, meters.life_end_at)'
        ) }}
),

calendar as (
    select * from {{ ref('int_calendar_days') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

-- The segment that owns the end of a day containing a reading (the last
-- segment starting in that day, or the one starting exactly at its end):
-- the counter there, whether it is estimated, whether measurement backs it.
segment_starts as (
    select
        *,
        {{ local_date('segment_start_at') }} as start_day,
        {{ local_midnight(local_date('segment_start_at')) }}
            as start_midnight_at
    from segments
    where segment_kind <> 'before_first'
),

day_end_owners as (
    select
        *,
        case
            when segment_start_at = start_midnight_at then start_day - 1
            else start_day
        end as owned_day,
        case
            when segment_start_at = start_midnight_at then segment_start_at
            else least({{ local_midnight('start_day + 1') }}, life_end_at)
        end as owned_end_at
    from segment_starts
),

owned_day_ends as (
    select
        day_end_owners.*,
        case
            when day_end_owners.is_seasonal
                then
                    weights.weight_at_day_start + weights.density_per_day * (
                        epoch_us(day_end_owners.owned_end_at)
                        - epoch_us(weights.day_start_at)
                    ) / 86400000000.0 - day_end_owners.anchor_weight
            else (
                epoch_us(day_end_owners.owned_end_at)
                - epoch_us(day_end_owners.anchor_at)
            ) / 86400000000.0
        end as end_weight_since_anchor
    from day_end_owners
    left join weights
        on
            day_end_owners.pattern_id = weights.pattern_id
            and {{ local_date('day_end_owners.owned_end_at') }} = weights.day
    where
        day_end_owners.owned_end_at = day_end_owners.anchor_at
        or day_end_owners.owned_end_at < day_end_owners.segment_end_at
        or (
            day_end_owners.segment_kind = 'after_last'
            and day_end_owners.owned_end_at <= day_end_owners.segment_end_at
        )
),

day_ends as (
    select
        meter_id,
        owned_day as day,
        case
            when owned_end_at = anchor_at then anchor_value
            else {{ segment_counter('end_weight_since_anchor') }}
        end as next_value,
        owned_end_at <> anchor_at and segment_kind <> 'between'
            as is_next_estimated,
        owned_end_at = anchor_at
        or epoch_us(next_reading_at) - epoch_us(previous_reading_at)
        <= {{ max_gap_us }} as is_next_backed
    from owned_day_ends
),

-- Each segment with the counter at the end of its last day when another
-- segment owns that end (the day holding the next reading): joined once per
-- segment here, never over all days. Segments in time order, so the days
-- they expand into are stored roughly in time order (a segment spans weeks):
-- the zone maps then keep an incremental build's reads of the latest days to
-- few row groups.
owned_segments as (
    select
        segments.*,
        day_ends.next_value as owner_next_value,
        day_ends.is_next_estimated as owner_is_next_estimated,
        day_ends.is_next_backed as owner_is_next_backed,
        day_ends.meter_id is not null as has_end_owner
    from segments
    left join day_ends
        on
            segments.meter_id = day_ends.meter_id
            and {{ local_date(
                'segments.segment_end_at - interval 1 microsecond'
            ) }} = day_ends.day
    order by segments.segment_start_at
),

segment_days as (
    select
        segments.*,
        cast(unnest(generate_series(
            {{ local_date('segments.segment_start_at') }},
            {{ local_date('segments.segment_end_at') }},
            interval 1 day
        )) as date) as day
    from owned_segments as segments
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
    from owned_segments as segments
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
        next_at < segment_end_at or segment_kind = 'after_last' or day is null
            as is_end_in_segment
    from instants
),

counted as (
    select
        meter_id,
        day,
        reading_at,
        case
            when reading_at = anchor_at then anchor_value
            else {{ segment_counter('weight_since_anchor') }}
        end as reading_value,
        -- An enum, not a varchar: the largest table's string column is
        -- written three times faster (34 million rows: 0.7 s, not 2.2 s).
        (case
            when reading_at = anchor_at then 'measured'
            when segment_kind <> 'between' then 'estimated'
            when is_seasonal then 'seasonal'
            else 'interpolated'
        end)::enum('measured', 'interpolated', 'seasonal', 'estimated')
            as reading_method,
        previous_reading_at,
        next_reading_at,
        next_at,
        case
            when is_end_in_segment
                then {{ segment_counter('next_weight_since_anchor') }}
            else owner_next_value
        end as next_value,
        case
            when is_end_in_segment then segment_kind <> 'between'
            else owner_is_next_estimated
        end as is_next_estimated,
        case
            when is_end_in_segment then true
            else owner_is_next_backed
        end as is_next_backed,
        is_partial_day
    from weighed
    -- A day whose end lies outside its segment needs that end's owner.
    where is_end_in_segment or has_end_owner
)

select
    meter_id,
    day,
    reading_at,
    reading_value,
    reading_method,
    previous_reading_at,
    next_reading_at,
    next_at,
    next_value,
    is_next_estimated,
    is_next_backed,
    is_partial_day
from counted
where {{ rebuilt('meter_id', 'reading_at') }}
