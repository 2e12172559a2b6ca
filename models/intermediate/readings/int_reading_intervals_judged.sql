{#-
    Every interval between two consecutive kept readings of a physical meter,
    judged against what the meter used before, once its closing reading is
    there (the open stretch after the last reading is never judged).
    W is the seasonal weight of int_seasonal_weights_daily for a meter with a
    pattern (a year accumulates 1), else elapsed days. Two references, each
    scaled to the interval by W, so each is "the same season":
    - same_span_last_year: the counter's growth over the same local days a
      year earlier (int_daily_readings_interpolated), times W(interval) /
      W(those days); only when the meter's first reading is at or before the
      start of that span (at least a year of history);
    - trailing_intervals: the consumption per unit W of the intervals that
      ended within anomaly_interval_trailing_days before the interval's
      start (always at least the previous interval), times W(interval).
    expected is the larger of the two: a leak must stand out against both
    last year's same season and the recent rate. Judged: intervals longer
    than anomaly_max_reading_gap_days (shorter ones are judged day by day in
    meter_anomalies), outside the Tibber stretch (its days are judged hour
    by hour), without a counter reset at the closing reading (a finding in
    data_quality_findings, not consumption to judge; such an interval is no
    reference either). An anomaly: consumption >= anomaly_factor x expected
    and above the unit's daily minimum times the interval's days.
    Incremental: an interval depends on nothing but its meter's readings
    (and Tibber counter), so a build recomputes every interval of the meters
    whose readings changed (pipeline/rebuild.py) and keeps the others; of the
    interpolated days it reads only those a year before the intervals.
-#}
{%- set minimums = var('anomaly_min_consumption') -%}
{%- set max_gap_days = var('anomaly_max_reading_gap_days') -%}
{%- set trailing_us = var('anomaly_interval_trailing_days') * 86400000000 -%}
{%- set factor = var('anomaly_factor') -%}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', none) }}",
) }}

with readings as (
    select * from {{ ref('int_readings_cleaned') }}
    where {{ rebuilt('meter_id', none) }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

tibber_stretches as (
    select
        meter_id,
        min(reading_at) as first_at,
        max(reading_at) as last_at
    from {{ ref('int_tibber_counter') }}
    where {{ rebuilt('meter_id', none) }}
    group by meter_id
),

minimums as (
    select * from (
        values
        {%- for unit, minimum in minimums.items() %}
        ('{{ unit }}', {{ minimum }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as minimum (unit, min_consumption)  -- noqa: AL05
),

weighed_readings as (
    select
        readings.meter_id,
        readings.measured_at,
        readings.reading_value,
        readings.is_after_counter_reset,
        meters.unit,
        meters.pattern_id,
        {{ local_date('readings.measured_at') }} as local_day,
        case
            when meters.pattern_id is null
                then {{ days_since_epoch('readings.measured_at') }}
            else
                weights.weight_at_day_start + weights.density_per_day * (
                    {{ days_since_epoch('readings.measured_at') }}
                    - {{ days_since_epoch('weights.day_start_at') }}
                )
        end as reading_weight
    from readings
    inner join meters on readings.meter_id = meters.meter_id
    left join weights
        on
            meters.pattern_id = weights.pattern_id
            and {{ local_date('readings.measured_at') }} = weights.day
),

sequenced as (
    select
        meter_id,
        unit,
        pattern_id,
        first_value(measured_at) over by_time as first_reading_at,
        measured_at as started_at,
        lead(measured_at) over by_time as ended_at,
        local_day as first_day,
        lead(local_day) over by_time as last_day,
        lead(reading_value) over by_time - reading_value as consumption,
        lead(reading_weight) over by_time - reading_weight as interval_weight,
        lead(is_after_counter_reset) over by_time as has_counter_reset
    from weighed_readings
    window by_time as (partition by meter_id order by measured_at)
),

intervals as (
    select
        *,
        epoch_us(ended_at) - epoch_us(started_at) as length_us,
        epoch_us(ended_at) - epoch_us(started_at)
        + {{ trailing_us }} as reference_span_us,
        -- the published field's name
        (epoch_us(ended_at) - epoch_us(started_at))
        / 86400000000.0 as days,  -- noqa: RF04
        cast(first_day - interval 1 year as date) as last_year_first_day,
        cast(last_day - interval 1 year as date) as last_year_last_day
    from sequenced
    where ended_at is not null
),

-- The intervals that ended within the trailing days before this one started
-- (ended from its end - reference_span_us to its end - length_us, in exact
-- epoch microseconds): always the previous one, never itself.
trailing_references as (
    select
        *,
        sum(case when not has_counter_reset then consumption end)
            over by_end as trailing_consumption,
        sum(case when not has_counter_reset then interval_weight end)
            over by_end as trailing_weight
    from intervals
    window by_end as (
        partition by meter_id
        order by epoch_us(ended_at)
        range between reference_span_us preceding and length_us preceding
    )
),

-- The counter at the local days a year before each interval's first and
-- last day: only those days of the big table are read.
span_days as (
    select
        meter_id,
        last_year_first_day as day
    from intervals
    union
    select
        meter_id,
        last_year_last_day as day
    from intervals
),

daily_readings as (
    select
        daily.meter_id,
        daily.day,
        daily.reading_at,
        daily.reading_value
    from {{ ref('int_daily_readings_interpolated') }} as daily
    inner join span_days
        on
            daily.meter_id = span_days.meter_id
            and daily.day = span_days.day
    where {{ rebuilt('daily.meter_id', none) }}
),

last_year as (
    select
        trailing_references.*,
        span_end.reading_value - span_start.reading_value
            as last_year_consumption,
        case
            when trailing_references.pattern_id is null
                then
                    (
                        epoch_us(span_end.reading_at)
                        - epoch_us(span_start.reading_at)
                    ) / 86400000000.0
            else
                weight_end.weight_at_day_start
                - weight_start.weight_at_day_start
        end as last_year_weight
    from trailing_references
    left join daily_readings as span_start
        on
            trailing_references.meter_id = span_start.meter_id
            and trailing_references.last_year_first_day = span_start.day
            and trailing_references.first_reading_at <= span_start.reading_at
    left join daily_readings as span_end
        on
            trailing_references.meter_id = span_end.meter_id
            and trailing_references.last_year_last_day = span_end.day
    left join weights as weight_start
        on
            trailing_references.pattern_id = weight_start.pattern_id
            and span_start.day = weight_start.day
    left join weights as weight_end
        on
            trailing_references.pattern_id = weight_end.pattern_id
            and span_end.day = weight_end.day
),

estimates as (
    select
        *,
        round(
            case
                when last_year_weight > 0
                    then
                        last_year_consumption * interval_weight
                        / last_year_weight
            end,
            9
        ) as expected_same_span_last_year,
        round(
            case
                when trailing_weight > 0
                    then
                        trailing_consumption * interval_weight
                        / trailing_weight
            end,
            9
        ) as expected_trailing_intervals
    from last_year
),

judged as (
    select
        estimates.*,
        greatest(
            estimates.expected_same_span_last_year,
            estimates.expected_trailing_intervals
        ) as expected,
        coalesce(minimums.min_consumption, 0) * estimates.days
            as min_consumption,
        tibber_stretches.meter_id is not null as is_in_tibber_stretch
    from estimates
    left join minimums on estimates.unit = minimums.unit
    left join tibber_stretches
        on
            estimates.meter_id = tibber_stretches.meter_id
            and estimates.started_at < tibber_stretches.last_at
            and estimates.ended_at > tibber_stretches.first_at
)

select
    meter_id,
    unit,
    pattern_id,
    started_at,
    ended_at,
    first_day,
    last_day,
    days,
    round(consumption, 9) as consumption,
    expected_same_span_last_year,
    expected_trailing_intervals,
    expected,
    case
        when expected is null then null
        when expected_same_span_last_year = expected
            then 'same_span_last_year'
        else 'trailing_intervals'
    end as expected_from,
    case
        when expected > 0 then consumption / expected
    end as ratio,
    min_consumption,
    case
        when has_counter_reset then 'counter_reset'
        when days <= {{ max_gap_days }} then 'judged_daily'
        when is_in_tibber_stretch then 'tibber_hours'
        when expected is null then 'no_history'
        when
            consumption >= {{ factor }} * expected
            and consumption > min_consumption
            then 'anomaly'
        else 'normal'
    end as judgement
from judged
