{#-
    Master meters' counters at every instant of the physical series: in each
    period the sum (or the single) source reading converted to the master's
    unit, plus the period's offset. With carry_offset the offset makes the
    master's reading at the period start equal to the previous period's
    reading at its end, so no consumption is lost or invented at a swap:
    offset_p = offset_(p-1) + S_(p-1)(start_p) - S_p(start_p).
    Incremental: the rebuilt masters wholly; for the others the rebuilt
    days, with the source readings at period starts that fix the offsets.
-#}
{{ config(
    materialized='incremental',
    pre_hook="{{ delete_rebuilt('meter_id', 'reading_at') }}",
) }}

with periods as (
    select * from {{ ref('stg_house__master_meter_periods') }}
),

masters as (
    select * from {{ ref('int_meters_enriched') }}
    where meter_type = 'master'
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

bounded_periods as (
    select
        periods.meter_id,
        periods.period_number,
        bool_or(periods.has_carry_offset) as has_carry_offset,
        count(*) as source_count,
        min({{ local_midnight('periods.starts_on') }}) as period_start_at,
        min({{ local_midnight('periods.ends_on + 1') }}) as period_end_at
    from periods
    group by periods.meter_id, periods.period_number
),

sources as (
    {{ rebuilt_rows(
        ref('int_daily_readings_interpolated'),
        'reading_at',
        meters='read',
        also='reading_at in (select period_start_at from bounded_periods)',
    ) }}
),

period_sums as (
    select
        periods.meter_id,
        periods.period_number,
        sources.reading_at,
        any_value(sources.day) as day,
        sum(sources.reading_value * conversions.factor) as source_sum,
        count(*) as present_sources,
        case
            when bool_or(sources.reading_method = 'estimated') then 'estimated'
            when bool_and(sources.reading_method = 'measured') then 'measured'
            when bool_or(sources.reading_method = 'seasonal') then 'seasonal'
            else 'interpolated'
        end as reading_method
    from periods
    inner join bounded_periods
        on
            periods.meter_id = bounded_periods.meter_id
            and periods.period_number = bounded_periods.period_number
    inner join masters on periods.meter_id = masters.meter_id
    inner join conversions
        on
            periods.source_unit = conversions.from_unit
            and masters.unit = conversions.to_unit
    inner join sources
        on
            periods.source_meter_id = sources.meter_id
            and bounded_periods.period_start_at <= sources.reading_at
            and (
                bounded_periods.period_end_at is null
                or bounded_periods.period_end_at >= sources.reading_at
            )
    group by periods.meter_id, periods.period_number, sources.reading_at
),

complete_sums as (
    select period_sums.*
    from period_sums
    inner join bounded_periods
        on
            period_sums.meter_id = bounded_periods.meter_id
            and period_sums.period_number = bounded_periods.period_number
    where period_sums.present_sources = bounded_periods.source_count
),

jumps as (
    select
        bounded_periods.meter_id,
        bounded_periods.period_number,
        bounded_periods.has_carry_offset,
        case
            when bounded_periods.has_carry_offset
                then
                    coalesce(
                        previous_end.source_sum - this_start.source_sum, 0
                    )
            else 0
        end as jump,
        sum(case when bounded_periods.has_carry_offset then 0 else 1 end)
            over (
                partition by bounded_periods.meter_id
                order by bounded_periods.period_number
            ) as carry_group
    from bounded_periods
    left join complete_sums as this_start
        on
            bounded_periods.meter_id = this_start.meter_id
            and bounded_periods.period_number = this_start.period_number
            and bounded_periods.period_start_at = this_start.reading_at
    left join complete_sums as previous_end
        on
            bounded_periods.meter_id = previous_end.meter_id
            and bounded_periods.period_number - 1 = previous_end.period_number
            and bounded_periods.period_start_at = previous_end.reading_at
),

offsets as (
    select
        meter_id,
        period_number,
        sum(jump) over (
            partition by meter_id, carry_group
            order by period_number
        ) as offset_value
    from jumps
)

select
    complete_sums.meter_id,
    complete_sums.day,
    complete_sums.reading_at,
    complete_sums.source_sum + offsets.offset_value as reading_value,
    complete_sums.reading_method,
    complete_sums.period_number
from complete_sums
inner join bounded_periods
    on
        complete_sums.meter_id = bounded_periods.meter_id
        and complete_sums.period_number = bounded_periods.period_number
inner join offsets
    on
        complete_sums.meter_id = offsets.meter_id
        and complete_sums.period_number = offsets.period_number
inner join masters on complete_sums.meter_id = masters.meter_id
where
    (
        bounded_periods.period_end_at is null
        or complete_sums.reading_at < bounded_periods.period_end_at
        or complete_sums.reading_at = masters.life_end_at
    )
    and complete_sums.reading_at >= masters.installed_at
    and complete_sums.reading_at <= masters.life_end_at
    and {{ rebuilt('complete_sums.meter_id', 'complete_sums.reading_at') }}
