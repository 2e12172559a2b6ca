{#-
    Days whose consumption is at least anomaly_factor times the expected
    consumption and above the unit's absolute minimum. Expected: the mean
    daily consumption of the preceding 30 days; for a meter with a seasonal
    pattern, that 30-day total times the day's share of the pattern weight
    of those 30 days. Only complete days backed by measurement are judged,
    and only when the 30 preceding days exist. The 30-day totals come from
    running sums (total before the day minus total 30 days earlier), so the
    cost does not grow with the window.
-#}
{%- set minimums = var('anomaly_min_consumption') -%}

with days as (
    select * from {{ ref('meter_daily_consumption') }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

running as (
    select
        days.*,
        meters.pattern_id,
        sum(days.consumption) over by_day - days.consumption
            as consumption_before,
        lag(days.day, 30) over by_day as day_30_before
    from days
    inner join meters on days.meter_id = meters.meter_id
    window by_day as (
        partition by days.meter_id
        order by days.day
        rows between unbounded preceding and current row
    )
),

windowed as (
    select
        running.*,
        running.consumption_before
        - lag(running.consumption_before, 30) over (
            partition by running.meter_id order by running.day
        ) as consumption_30
    from running
),

judged as (
    select
        windowed.*,
        this_day.day_weight,
        this_day.weight_at_day_start
        - month_ago.weight_at_day_start as weight_30
    from windowed
    left join weights as this_day
        on
            windowed.pattern_id = this_day.pattern_id
            and windowed.day = this_day.day
    left join weights as month_ago
        on
            windowed.pattern_id = month_ago.pattern_id
            and windowed.day_30_before = month_ago.day
    where
        windowed.day_30_before = windowed.day - 30
        and windowed.is_measurement_backed
        and not windowed.is_partial
),

expected as (
    select
        *,
        case
            when pattern_id is not null and weight_30 > 0
                then consumption_30 * day_weight / weight_30
            else consumption_30 / 30.0
        end as expected
    from judged
),

minimums as (
    select * from (
        values
        {%- for unit, minimum in minimums.items() %}
        ('{{ unit }}', {{ minimum }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as minimum (unit, min_consumption)  -- noqa: AL05
)

select
    expected.meter_id,
    expected.unit,
    expected.day,
    expected.day_start_at,
    expected.consumption,
    expected.expected,
    case
        when expected.expected > 0
            then expected.consumption / expected.expected
    end as ratio,
    case
        when expected.pattern_id is not null
            then 'at_least_{{ var("anomaly_factor") }}x_seasonal_30_day_mean'
        else 'at_least_{{ var("anomaly_factor") }}x_30_day_mean'
    end as rule
from expected
inner join minimums on expected.unit = minimums.unit
where
    expected.consumption >= {{ var('anomaly_factor') }} * expected.expected
    and expected.consumption > minimums.min_consumption
