-- Every interval anomaly spans two consecutive kept readings (no kept
-- reading inside it), holds no counter reset (a finding, never judged),
-- is longer than the stretch judged day by day, and meets its rule:
-- consumption >= anomaly_factor x expected and above the unit's daily
-- minimum times its days.
{%- set minimums = var('anomaly_min_consumption') %}
with anomalies as (
    select * from {{ ref('meter_interval_anomalies') }}
),

readings as (
    select * from {{ ref('int_readings_cleaned') }}
),

findings as (
    select * from {{ ref('data_quality_findings') }}
    where finding_type = 'counter_reset'
),

reading_inside as (
    select
        anomalies.meter_id,
        anomalies.started_at,
        'kept reading at ' || readings.measured_at || ' inside the interval'
            as problem
    from anomalies
    inner join readings
        on
            anomalies.meter_id = readings.meter_id
            and anomalies.started_at < readings.measured_at
            and anomalies.ended_at > readings.measured_at
),

reset_inside as (
    select
        anomalies.meter_id,
        anomalies.started_at,
        'counter reset at ' || findings.found_at || ' inside the interval'
            as problem
    from anomalies
    inner join findings
        on
            anomalies.meter_id = findings.meter_id
            and anomalies.started_at < findings.found_at
            and anomalies.ended_at >= findings.found_at
),

rule_broken as (
    select
        meter_id,
        started_at,
        'consumption ' || consumption || ' over ' || days
        || ' days against expected ' || expected as problem
    from anomalies
    where
        days <= {{ var('anomaly_max_reading_gap_days') }}
        or consumption < {{ var('anomaly_factor') }} * expected
        or consumption <= days * case unit
            {%- for unit, minimum in minimums.items() %}
            when '{{ unit }}' then {{ minimum }}
            {%- endfor %}
            else 0
        end
)

select * from reading_inside
union all
select * from reset_inside
union all
select * from rule_broken
