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
    One row per reading, so this is a table rebuilt in full on every build.
-#}
{%- set minimums = var('anomaly_min_consumption') -%}
{%- set max_gap_days = var('anomaly_max_reading_gap_days') -%}
{%- set trailing_days = var('anomaly_interval_trailing_days') -%}
{%- set factor = var('anomaly_factor') -%}

with readings as (
    select * from {{ ref('int_readings_cleaned') }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

daily_readings as (
    select * from {{ ref('int_daily_readings_interpolated') }}
    where day is not null
),

tibber_stretches as (
    select
        meter_id,
        min(reading_at) as first_at,
        max(reading_at) as last_at
    from {{ ref('int_tibber_counter') }}
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
        end as reading_weight,
        min(readings.measured_at) over (
            partition by readings.meter_id
        ) as first_reading_at
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
        first_reading_at,
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
        (epoch_us(ended_at) - epoch_us(started_at)) / 86400000000.0 as days,
        {{ days_since_epoch('ended_at') }} as ended_day_number
    from sequenced
    where ended_at is not null
),

-- Per interval, the references that end at its end (sums over the intervals
-- ending within the trailing days); the next interval reads them.
trailing_sums as (
    select
        *,
        sum(case when not has_counter_reset then consumption end)
            over by_end as consumption_to_end,
        sum(case when not has_counter_reset then interval_weight end)
            over by_end as weight_to_end
    from intervals
    window by_end as (
        partition by meter_id
        order by ended_day_number
        range between {{ trailing_days }} preceding and current row
    )
),

trailing_references as (
    select
        * exclude (consumption_to_end, weight_to_end),
        lag(consumption_to_end) over by_time as trailing_consumption,
        lag(weight_to_end) over by_time as trailing_weight
    from trailing_sums
    window by_time as (partition by meter_id order by started_at)
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
            and cast(trailing_references.first_day - interval 1 year as date)
            = span_start.day
            and trailing_references.first_reading_at <= span_start.reading_at
    left join daily_readings as span_end
        on
            trailing_references.meter_id = span_end.meter_id
            and cast(trailing_references.last_day - interval 1 year as date)
            = span_end.day
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
