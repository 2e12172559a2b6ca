{#-
    Each physical meter's installed life cut into segments, each with one
    rule for the counter v(t) = anchor_value + slope * (W(t) - anchor_weight):
    - before_first: installed_at up to the first reading, at the rate of the
      first segment_rate_days (a year) of readings, never below zero
      (estimated);
    - between: from one reading to the next; W is elapsed time, or the
      seasonal weight when the meter has a pattern and the gap is at least
      seasonal_min_gap_days long (interpolated or seasonal). v is exact at
      both readings, so consumption between them is conserved;
    - after_last: from the last reading on, open (segment_end_at null: the
      interpolation ends it at the meter's end of life, as_of or the
      removal), at the rate of the last segment_rate_days of readings for
      an active meter and flat for a removed one (estimated).
    A meter with a single reading, or whose readings never change, has rate 0.
    W is in days: time weight = days since the epoch; seasonal weight from
    int_seasonal_weights_daily (a year accumulates 1). Nothing here depends
    on as_of, so an incremental build recomputes only the rebuilt meters.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', none) }}",
) }}

with readings as (
    select * from {{ ref('int_readings_combined') }}
    where {{ rebuilt('meter_id', none) }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_type = 'physical'
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

weighted as (
    select
        readings.meter_id,
        readings.reading_at,
        readings.reading_value,
        meters.pattern_id,
        meters.installed_at,
        meters.is_removed,
        {{ days_since_epoch('readings.reading_at') }} as time_weight,
        weights.weight_at_day_start + weights.density_per_day * (
            {{ days_since_epoch('readings.reading_at') }}
            - {{ days_since_epoch('weights.day_start_at') }}
        ) as seasonal_weight
    from readings
    inner join meters on readings.meter_id = meters.meter_id
    left join weights
        on
            meters.pattern_id = weights.pattern_id
            and {{ local_date('readings.reading_at') }} = weights.day
),

sequenced as (
    select
        *,
        coalesce(seasonal_weight, time_weight) as rate_weight,
        lead(reading_at) over by_time as next_at,
        lead(reading_value) over by_time as next_value,
        lead(time_weight) over by_time as next_time_weight,
        lead(seasonal_weight) over by_time as next_seasonal_weight,
        row_number() over by_time as position,
        count(*) over (partition by meter_id) as reading_count
    from weighted
    window by_time as (partition by meter_id order by reading_at)
),

first_readings as (
    select * from sequenced
    where position = 1
),

last_readings as (
    select * from sequenced
    where position = reading_count
),

first_year_ends as (
    select
        sequenced.meter_id,
        arg_max(sequenced.reading_value, sequenced.reading_at) as end_value,
        arg_max(sequenced.rate_weight, sequenced.reading_at) as end_weight
    from sequenced
    inner join first_readings
        on sequenced.meter_id = first_readings.meter_id
    where
        sequenced.time_weight
        <= first_readings.time_weight + {{ var('segment_rate_days') }}
    group by sequenced.meter_id
),

last_year_starts as (
    select
        sequenced.meter_id,
        arg_min(sequenced.reading_value, sequenced.reading_at) as start_value,
        arg_min(sequenced.rate_weight, sequenced.reading_at) as start_weight
    from sequenced
    inner join last_readings
        on sequenced.meter_id = last_readings.meter_id
    where
        sequenced.time_weight
        >= last_readings.time_weight - {{ var('segment_rate_days') }}
    group by sequenced.meter_id
),

between_readings as (
    select
        meter_id,
        'between' as segment_kind,
        reading_at as segment_start_at,
        next_at as segment_end_at,
        reading_at as anchor_at,
        reading_value as anchor_value,
        reading_at as previous_reading_at,
        next_at as next_reading_at,
        pattern_id is not null
        and next_time_weight - time_weight
        >= {{ var('seasonal_min_gap_days') }} as is_seasonal,
        case
            when
                pattern_id is not null
                and next_time_weight - time_weight
                >= {{ var('seasonal_min_gap_days') }}
                then seasonal_weight
            else time_weight
        end as anchor_weight,
        case
            when
                pattern_id is not null
                and next_time_weight - time_weight
                >= {{ var('seasonal_min_gap_days') }}
                then
                    (next_value - reading_value)
                    / (next_seasonal_weight - seasonal_weight)
            else
                (next_value - reading_value)
                / ((epoch_us(next_at) - epoch_us(reading_at)) / 86400000000.0)
        end as slope
    from sequenced
    where next_at is not null
),

before_first as (
    select
        first_readings.meter_id,
        'before_first' as segment_kind,
        first_readings.installed_at as segment_start_at,
        first_readings.reading_at as segment_end_at,
        first_readings.reading_at as anchor_at,
        first_readings.reading_value as anchor_value,
        null::timestamptz as previous_reading_at,
        first_readings.reading_at as next_reading_at,
        first_readings.pattern_id is not null as is_seasonal,
        first_readings.rate_weight as anchor_weight,
        case
            when first_year_ends.end_weight > first_readings.rate_weight
                then
                    greatest(
                        (
                            first_year_ends.end_value
                            - first_readings.reading_value
                        )
                        / (
                            first_year_ends.end_weight
                            - first_readings.rate_weight
                        ),
                        0
                    )
            else 0
        end as slope
    from first_readings
    inner join first_year_ends
        on first_readings.meter_id = first_year_ends.meter_id
    where first_readings.installed_at < first_readings.reading_at
),

after_last as (
    select
        last_readings.meter_id,
        'after_last' as segment_kind,
        last_readings.reading_at as segment_start_at,
        null::timestamptz as segment_end_at,
        last_readings.reading_at as anchor_at,
        last_readings.reading_value as anchor_value,
        last_readings.reading_at as previous_reading_at,
        null::timestamptz as next_reading_at,
        last_readings.pattern_id is not null as is_seasonal,
        last_readings.rate_weight as anchor_weight,
        case
            when
                not last_readings.is_removed
                and last_readings.rate_weight > last_year_starts.start_weight
                then
                    greatest(
                        (
                            last_readings.reading_value
                            - last_year_starts.start_value
                        )
                        / (
                            last_readings.rate_weight
                            - last_year_starts.start_weight
                        ),
                        0
                    )
            else 0
        end as slope
    from last_readings
    inner join last_year_starts
        on last_readings.meter_id = last_year_starts.meter_id
),

segments as (
    select * from before_first
    union all
    select * from between_readings
    union all
    select * from after_last
)

select
    segments.*,
    meters.pattern_id
from segments
inner join meters on segments.meter_id = meters.meter_id
