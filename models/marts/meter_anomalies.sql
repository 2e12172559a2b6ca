{#-
    Days whose consumption is at least anomaly_factor times the expected
    consumption and above the unit's absolute minimum. Expected: the mean
    daily consumption of the preceding 30 days; for a meter with a seasonal
    pattern, that 30-day total times the day's share of the pattern weight
    of those 30 days. Only complete days backed by measurement are judged,
    and only when the 30 preceding days exist.
-#}
{%- set minimums = var('anomaly_min_consumption') -%}

with days as (
    select * from {{ ref('int_daily_consumption_unioned') }}
),

weights as (
    select * from {{ ref('int_seasonal_weights_daily') }}
),

windowed as (
    select
        days.*,
        weights.day_weight,
        sum(days.consumption) over preceding_30 as consumption_30,
        sum(weights.day_weight) over preceding_30 as weight_30,
        count(*) over preceding_30 as days_30
    from days
    left join weights
        on
            days.pattern_id = weights.pattern_id
            and days.day = weights.day
    window preceding_30 as (
        partition by days.meter_id
        order by days.day
        range between interval 30 day preceding and interval 1 day preceding
    )
),

expected as (
    select
        *,
        case
            when pattern_id is not null and weight_30 > 0
                then consumption_30 * day_weight / weight_30
            else consumption_30 / 30.0
        end as expected
    from windowed
    where days_30 = 30 and is_measurement_backed and not is_partial
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
