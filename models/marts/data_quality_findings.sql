{#-
    Every data-quality finding, one row each, separate from consumption
    anomalies: readings dropped or flagged by cleaning (with the rule that
    decided), values the extract could not keep (not a number, several at
    one instant), meters without any reading or with a single one, manual
    readings that disagree with the Tibber counter by more than the
    tolerance, and negative virtual consumption (days and months).
-#}
with classified as (
    select * from {{ ref('int_readings_classified') }}
),

issues as (
    select * from {{ ref('stg_landing__reading_issues') }}
),

meters as (
    select * from {{ ref('int_meters_enriched') }}
),

deviations as (
    select * from {{ ref('int_tibber_manual_deviations') }}
),

virtual_days as (
    select * from {{ ref('meter_daily_consumption') }}
    where meter_type = 'virtual'
),

virtual_months as (
    select * from {{ ref('meter_monthly_consumption') }}
    where meter_type = 'virtual'
),

reading_findings as (
    select
        meter_id,
        reading_status as finding_type,
        measured_at as found_at,
        raw_value as value,
        'raw value ' || coalesce(cast(raw_value as varchar), 'null')
        || ' ' || coalesce(unit, '')
        || coalesce(': ' || rule_detail, '') as detail
    from classified
    -- superseded: an older version of a reading the source corrected since
    where reading_status not in ('valid', 'superseded')
),

-- An issue landed again by a later extraction is one finding.
issue_findings as (
    select
        meter_id,
        issue as finding_type,
        measured_at as found_at,
        cast(null as double) as value,
        case issue
            when 'unparseable'
                then
                    'not a number: '
                    || string_agg(
                        distinct raw_value || ' (' || unit || ')', ', '
                    )
            else
                'several values at one instant; dropped: '
                || string_agg(distinct raw_value || ' ' || unit, ', ')
        end as detail
    from issues
    group by meter_id, issue, measured_at
),

single_readings as (
    select
        meter_id,
        'single_reading' as finding_type,
        min(measured_at) as found_at,
        min(raw_value) as value,
        'the only valid reading up to as_of: no consumption can be measured'
            as detail
    from classified
    where reading_status in ('valid', 'counter_reset')
    group by meter_id
    having count(*) = 1
),

silent_meters as (
    select
        meters.meter_id,
        'no_readings' as finding_type,
        meters.installed_at as found_at,
        cast(null as double) as value,
        'no valid reading in the installed life up to as_of' as detail
    from meters
    where
        meters.meter_type = 'physical'
        and meters.installed_at < meters.life_end_at
        and not exists (
            select 1 as found from classified
            where
                classified.meter_id = meters.meter_id
                and classified.reading_status in ('valid', 'counter_reset')
        )
),

tibber_findings as (
    select
        meter_id,
        'manual_reading_differs_from_tibber' as finding_type,
        measured_at as found_at,
        difference as value,
        'manual ' || round(manual_value, 3) || ' vs Tibber counter '
        || round(counter_value, 3) as detail
    from deviations
    where is_beyond_tolerance
),

negative_days as (
    select
        meter_id,
        'negative_virtual_day' as finding_type,
        day_start_at as found_at,
        consumption as value,
        'virtual consumption of ' || day || ' is negative' as detail
    from virtual_days
    where consumption < 0
),

negative_months as (
    select
        meter_id,
        'negative_virtual_month' as finding_type,
        month_start_at as found_at,
        consumption as value,
        'virtual consumption of ' || strftime(month, '%Y-%m')
        || ' is negative' as detail
    from virtual_months
    where consumption < 0
)

select * from reading_findings
union all
select * from issue_findings
union all
select * from single_readings
union all
select * from silent_meters
union all
select * from tibber_findings
union all
select * from negative_days
union all
select * from negative_months
