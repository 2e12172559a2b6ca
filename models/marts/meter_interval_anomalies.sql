{#-
    Intervals between two consecutive readings of a physical meter whose
    consumption is at least anomaly_factor times the expected consumption
    and above the unit's minimum (int_reading_intervals_judged), stamped at
    the local start of the interval's first day.
-#}
with intervals as (
    select * from {{ ref('int_reading_intervals_judged') }}
    where judgement = 'anomaly'
)

select
    meter_id,
    unit,
    first_day,
    {{ local_midnight('first_day') }} as first_day_start_at,
    last_day,
    started_at,
    ended_at,
    days,
    consumption,
    expected,
    ratio,
    expected_from,
    'at_least_{{ var("anomaly_factor") }}x_' || expected_from
    || case when pattern_id is not null then '_seasonal' else '' end as rule
from intervals
