{#-
    Every landed reading of a physical meter with the cleaning verdict
    (reading_status) and, for kept readings, the cumulative value after
    counter resets (reading_value):
    - superseded: an older extraction of the same (meter, instant);
    - unknown_meter: no physical meter of that id in the house;
    - non_finite: NaN, infinite or missing value;
    - negative: below zero, which no counter reads;
    - outside_life: before installation or after removal;
    - after_as_of: later than as_of;
    - counter_reset: below 90 % of the previous valid reading; the counter
      restarted from 0, so later readings add the pre-reset level;
    - bad_reading: a smaller drop below the previous valid reading, excluded;
    - valid.
    Resets are found one per pass (max_counter_resets passes, unrolled): a
    reset starts a segment, and inside a segment the previous valid reading is
    the running maximum (bad readings lie below it).
-#}
{%- set passes = var('max_counter_resets') -%}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', none) }}",
) }}

with readings as (
    select * from {{ ref('stg_landing__readings') }}
    where {{ rebuilt('meter_id', none) }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_type = 'physical'
),

versioned as (
    select
        *,
        row_number() over (
            partition by meter_id, measured_at
            order by extracted_at desc
        ) as version_rank
    from readings
),

checked as (
    select
        versioned.meter_id,
        versioned.measured_at,
        versioned.reading_value as raw_value,
        versioned.unit,
        versioned.extracted_at,
        case
            when versioned.version_rank > 1 then 'superseded'
            when meters.meter_id is null then 'unknown_meter'
            when
                versioned.reading_value is null
                or not isfinite(versioned.reading_value)
                then 'non_finite'
            when versioned.reading_value < 0 then 'negative'
            when
                versioned.measured_at < meters.installed_at
                or versioned.measured_at >= meters.removed_at
                then 'outside_life'
            when versioned.measured_at > meters.as_of_at then 'after_as_of'
        end as rejection
    from versioned
    left join meters on versioned.meter_id = meters.meter_id
),

candidates as (
    select
        meter_id,
        measured_at,
        raw_value
    from checked
    where rejection is null
),

resets_0 as (
    select distinct
        meter_id,
        cast('-infinity' as timestamptz) as reset_at
    from candidates
),

{% for pass in range(1, passes + 1) %}
resets_{{ pass }} as (
    select
        meter_id,
        min(measured_at) as reset_at
    from (
        select
            candidates.meter_id,
            candidates.measured_at,
            candidates.raw_value,
            max(candidates.raw_value) over (
                partition by candidates.meter_id
                order by candidates.measured_at
                rows between unbounded preceding and 1 preceding
            ) as previous_max
        from candidates
        inner join resets_{{ pass - 1 }} as earlier
            on
                candidates.meter_id = earlier.meter_id
                and candidates.measured_at >= earlier.reset_at
    ) as running
    where raw_value < 0.9 * previous_max
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
        candidates.meter_id,
        candidates.measured_at,
        candidates.raw_value,
        resets.reset_at is not null as is_reset
    from candidates
    left join resets
        on
            candidates.meter_id = resets.meter_id
            and candidates.measured_at = resets.reset_at
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
        ) as offset_value
    from segment_levels
),

verdicts as (
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
        ranked.raw_value + offsets.offset_value as reading_value
    from ranked
    inner join offsets
        on
            ranked.meter_id = offsets.meter_id
            and ranked.segment_number = offsets.segment_number
)

select
    checked.meter_id,
    checked.measured_at,
    checked.raw_value,
    checked.unit,
    checked.extracted_at,
    coalesce(checked.rejection, verdicts.reading_status) as reading_status,
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
