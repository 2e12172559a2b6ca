{#-
    Every landed reading of a physical meter with the cleaning verdict
    (reading_status), the rule that decided it (rule_detail) and, for kept
    readings, the cumulative value after counter resets (reading_value).
    Rejected outright:
    - superseded: an older extraction of the same (meter, instant)
      (base_landing__readings);
    - unknown_meter: no physical meter of that id in the house;
    - non_finite: NaN, infinite or missing;
    - negative: below zero, which no counter reads;
    - outside_life: before installation or after removal;
    - after_as_of: later than as_of.
    Then, in this order, among the remaining readings of a meter:
    - typo: one reading out of line with its neighbours, which agree with
      each other (the next reading is at least the previous one): it stands
      above the next reading (and the one after that), or more than 10 %
      below the previous one. Excluded alone; its neighbours are kept. A
      smaller drop of that kind is a bad_reading;
    - implausible: its rise per day (at least one day) since any of the
      three readings before it exceeds implausible_consumption_factor times
      the median daily consumption of the meter's earlier intervals (the last
      implausible_lookback_intervals, once at least implausible_min_intervals
      of them rose); excluded;
    - counter_reset: below 90 % of the previous valid reading, and the
      counter really restarted low and grows from there: the next reading is
      not below it and its value, consumed since the previous reading, is
      not implausible. Later readings add the pre-reset level;
    - bad_reading: any other reading below the previous valid one, excluded;
    - valid.
    The rules look at most cleaning_lookahead_readings (two) readings ahead,
    so a new reading changes the verdict of at most that many readings
    before it (pipeline/rebuild.py rebuilds from the kept reading before
    those). Resets are found
    one per pass (max_counter_resets passes, unrolled): a reset starts a
    segment, and inside a segment the previous valid reading is the running
    maximum (bad readings lie below it).
-#}
{%- set passes = var('max_counter_resets') -%}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', none) }}",
) }}

with readings as (
    select * from {{ ref('base_landing__readings') }}
    where {{ rebuilt('meter_id', none) }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_type = 'physical'
),

checked as (
    select
        readings.meter_id,
        readings.measured_at,
        readings.reading_value as raw_value,
        readings.unit,
        readings.extracted_at,
        case
            when readings.is_superseded then 'superseded'
            when meters.meter_id is null then 'unknown_meter'
            when
                readings.reading_value is null
                or not isfinite(readings.reading_value)
                then 'non_finite'
            when readings.reading_value < 0 then 'negative'
            when
                readings.measured_at < meters.installed_at
                or readings.measured_at >= meters.removed_at
                then 'outside_life'
            when readings.measured_at > meters.as_of_at then 'after_as_of'
        end as rejection
    from readings
    left join meters on readings.meter_id = meters.meter_id
),

candidates as (
    select
        meter_id,
        measured_at,
        raw_value,
        epoch_us(measured_at) / 86400000000.0 as measured_day
    from checked
    where rejection is null
),

neighbours as (
    select
        *,
        lag(raw_value) over by_time as previous_value,
        lead(raw_value) over by_time as next_value,
        lead(raw_value, {{ var('cleaning_lookahead_readings') }})
            over by_time as after_next_value
    from candidates
    window by_time as (partition by meter_id order by measured_at)
),

-- Nulls (no neighbour) fall through: a first or last reading is no typo.
typos as (
    select
        *,
        case
            when
                raw_value > next_value
                and next_value >= previous_value
                and (after_next_value is null or raw_value > after_next_value)
                then 'typo'
            when
                raw_value < 0.9 * previous_value
                and next_value >= previous_value
                then 'typo'
            when raw_value < previous_value and next_value >= previous_value
                then 'bad_reading'
        end as typo_status
    from neighbours
),

increases as (
    select
        meter_id,
        measured_at,
        raw_value,
        raw_value - lag(raw_value) over by_time as increase,
        measured_day - lag(measured_day) over by_time as elapsed_days,
        -- the largest rise per day (at least one day) from any of the three
        -- readings before: a second high reading after a first one counts
        greatest(
            (raw_value - lag(raw_value) over by_time)
            / greatest(measured_day - lag(measured_day) over by_time, 1),
            (raw_value - lag(raw_value, 2) over by_time)
            / greatest(measured_day - lag(measured_day, 2) over by_time, 1),
            (raw_value - lag(raw_value, 3) over by_time)
            / greatest(measured_day - lag(measured_day, 3) over by_time, 1)
        ) as daily_increase,
        lead(raw_value) over by_time as next_kept_value
    from typos
    where typo_status is null
    window by_time as (partition by meter_id order by measured_at)
),

rates as (
    select
        *,
        case
            when increase > 0 and elapsed_days > 0
                then increase / elapsed_days
        end as rising_rate
    from increases
),

limits as (
    select
        *,
        case
            when
                count(rising_rate) over earlier
                >= {{ var('implausible_min_intervals') }}
                then
                    {{ var('implausible_consumption_factor') }}
                    * median(rising_rate) over earlier
        end as daily_limit
    from rates
    window earlier as (
        partition by meter_id
        order by measured_at
        rows between {{ var('implausible_lookback_intervals') }} preceding
        and 1 preceding
    )
),

judged as (
    select
        *,
        coalesce(daily_increase > daily_limit, false) as is_implausible,
        coalesce(next_kept_value >= raw_value, false)
        and coalesce(
            raw_value / greatest(elapsed_days, 1) <= daily_limit, true
        ) as can_restart
    from limits
),

plausible as (
    select
        meter_id,
        measured_at,
        raw_value,
        can_restart
    from judged
    where not is_implausible
),

resets_0 as (
    select distinct
        meter_id,
        cast('-infinity' as timestamptz) as reset_at
    from plausible
),

{% for pass in range(1, passes + 1) %}
resets_{{ pass }} as (
    select
        meter_id,
        min(measured_at) as reset_at
    from (
        select
            plausible.meter_id,
            plausible.measured_at,
            plausible.raw_value,
            plausible.can_restart,
            max(plausible.raw_value) over (
                partition by plausible.meter_id
                order by plausible.measured_at
                rows between unbounded preceding and 1 preceding
            ) as previous_max
        from plausible
        inner join resets_{{ pass - 1 }} as earlier
            on
                plausible.meter_id = earlier.meter_id
                and plausible.measured_at >= earlier.reset_at
    ) as running
    where raw_value < 0.9 * previous_max and can_restart
    group by meter_id
),
{% endfor %}

resets as (
    {% for pass in range(1, passes + 1) %}
    select
        meter_id,
        reset_at
    from resets_{{ pass }}
    union all
    {% endfor %}
    select
        meter_id,
        reset_at
    from resets_0
    where false
),

marked as (
    select
        plausible.meter_id,
        plausible.measured_at,
        plausible.raw_value,
        resets.reset_at is not null as is_reset
    from plausible
    left join resets
        on
            plausible.meter_id = resets.meter_id
            and plausible.measured_at = resets.reset_at
),

segmented as (
    select
        meter_id,
        measured_at,
        raw_value,
        sum(cast(is_reset as integer)) over (
            partition by meter_id
            order by measured_at
            rows between unbounded preceding and current row
        ) as segment_number
    from marked
),

ranked as (
    select
        *,
        max(raw_value) over (
            partition by meter_id, segment_number
            order by measured_at
            rows between unbounded preceding and 1 preceding
        ) as previous_valid_value,
        row_number() over (
            partition by meter_id, segment_number
            order by measured_at
        ) as position_in_segment
    from segmented
),

segment_levels as (
    select
        meter_id,
        segment_number,
        max(raw_value) as segment_level
    from segmented
    group by meter_id, segment_number
),

offsets as (
    select
        meter_id,
        segment_number,
        coalesce(
            sum(segment_level) over (
                partition by meter_id
                order by segment_number
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as offset_value,
        lag(segment_level) over (
            partition by meter_id
            order by segment_number
        ) as previous_level
    from segment_levels
),

segment_verdicts as (
    select
        ranked.meter_id,
        ranked.measured_at,
        case
            when
                ranked.segment_number > 0 and ranked.position_in_segment = 1
                then 'counter_reset'
            when ranked.raw_value < ranked.previous_valid_value
                then 'bad_reading'
            else 'valid'
        end as reading_status,
        case
            when
                ranked.segment_number > 0 and ranked.position_in_segment = 1
                then
                    'the counter restarted: below 90 % of the previous '
                    || 'valid reading ' || offsets.previous_level
                    || ', and the readings after it grow from here'
            when ranked.raw_value < ranked.previous_valid_value
                then
                    'below the previous valid reading '
                    || ranked.previous_valid_value
        end as rule_detail,
        ranked.raw_value + offsets.offset_value as reading_value
    from ranked
    inner join offsets
        on
            ranked.meter_id = offsets.meter_id
            and ranked.segment_number = offsets.segment_number
),

verdicts as (
    select * from segment_verdicts
    union all
    select
        meter_id,
        measured_at,
        typo_status as reading_status,
        case
            when raw_value > next_value
                then
                    'stands above the next reading ' || next_value
                    || ', which continues from the previous one '
                    || previous_value
            else
                'below the previous reading ' || previous_value
                || ', while the next one ' || next_value
                || ' continues from it'
        end as rule_detail,
        cast(null as double) as reading_value
    from typos
    where typo_status is not null
    union all
    select
        meter_id,
        measured_at,
        'implausible' as reading_status,
        'rises ' || round(daily_increase, 3) || ' per day since an '
        || 'earlier reading, above the limit ' || round(daily_limit, 3)
        || ' ({{ var('implausible_consumption_factor') }} x the median daily '
        || 'consumption of the earlier intervals)' as rule_detail,
        cast(null as double) as reading_value
    from judged
    where is_implausible
)

select
    checked.meter_id,
    checked.measured_at,
    checked.raw_value,
    checked.unit,
    checked.extracted_at,
    coalesce(checked.rejection, verdicts.reading_status) as reading_status,
    case
        when checked.rejection is null then verdicts.rule_detail
        when checked.rejection = 'superseded'
            then 'several readings at one instant: a later extraction won'
    end as rule_detail,
    case
        when
            checked.rejection is null
            and verdicts.reading_status in ('valid', 'counter_reset')
            then verdicts.reading_value
    end as reading_value
from checked
-- A superseded row meets its winner's verdict here; its rejection wins.
left join verdicts
    on
        checked.meter_id = verdicts.meter_id
        and checked.measured_at = verdicts.measured_at
