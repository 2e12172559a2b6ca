-- A `single` period has one source, a `sum` period at least one; masters and
-- virtual meters are declared with the right meter_type; a virtual meter has
-- exactly one base; sources are physical meters.
with meters as (
    select * from {{ ref('stg_house__meters') }}
),

periods as (
    select
        meter_id,
        period_number,
        min(composition) as composition,
        count(*) as sources
    from {{ ref('stg_house__master_meter_periods') }}
    group by meter_id, period_number
),

components as (
    select
        meter_id,
        count(*) filter (where component_role = 'base') as bases
    from {{ ref('stg_house__virtual_meter_components') }}
    group by meter_id
),

problems as (
    select
        meter_id,
        'period ' || period_number || ' is single but has ' || sources
        || ' sources' as problem
    from periods
    where composition = 'single' and sources <> 1
    union all
    select
        meter_id,
        'virtual meter has ' || bases || ' base components (needs 1)'
            as problem
    from components
    where bases <> 1
    union all
    select
        periods.meter_id,
        'has master periods but meter_type '
        || coalesce(meters.meter_type, '?') as problem
    from periods
    left join meters on periods.meter_id = meters.meter_id
    where coalesce(meters.meter_type, '') <> 'master'
    union all
    select
        components.meter_id,
        'has components but meter_type '
        || coalesce(meters.meter_type, '?') as problem
    from components
    left join meters on components.meter_id = meters.meter_id
    where coalesce(meters.meter_type, '') <> 'virtual'
    union all
    select
        meters.meter_id,
        'is a ' || meters.meter_type || ' meter without a definition'
            as problem
    from meters
    where
        (
            meters.meter_type = 'master'
            and meters.meter_id not in (select meter_id from periods)
        )
        or (
            meters.meter_type = 'virtual'
            and meters.meter_id not in (select meter_id from components)
        )
    union all
    select
        sources.meter_id,
        'source ' || sources.source_meter_id || ' is not a physical meter'
            as problem
    from {{ ref('stg_house__master_meter_periods') }} as sources
    inner join meters on sources.source_meter_id = meters.meter_id
    where meters.meter_type <> 'physical'
)

select * from problems
union all
select
    components.meter_id,
    'component ' || components.component_meter_id || ' is a '
    || meters.meter_type || ' meter (needs physical or master)' as problem
from {{ ref('stg_house__virtual_meter_components') }} as components
inner join meters on components.component_meter_id = meters.meter_id
where meters.meter_type = 'virtual'
union all
select
    meter_id,
    'removed_on ' || removed_on || ' is before installed_on '
    || installed_on as problem
from meters
where removed_on < installed_on
