{#-
    Every meter with its installed life as UTC instants: from local 00:00 of
    installed_on up to local 00:00 of the day after removed_on (open when
    empty), cut at as_of; and its seasonal pattern, if it has one.
-#}
with meters as (
    select * from {{ ref('stg_house__meters') }}
),

patterns as (
    select distinct
        meter_id,
        pattern_id
    from {{ ref('int_seasonal_shares_normalised') }}
),

lives as (
    select
        meters.*,
        {{ local_midnight('meters.installed_on') }} as installed_at,
        {{ local_midnight('meters.removed_on + 1') }} as removed_at,
        {{ as_of() }} as as_of_at
    from meters
)

select
    lives.meter_id,
    lives.meter_type,
    lives.utility,
    lives.unit,
    lives.installed_on,
    lives.removed_on,
    lives.description,
    lives.installed_at,
    lives.removed_at,
    lives.as_of_at,
    least(coalesce(lives.removed_at, lives.as_of_at), lives.as_of_at)
        as life_end_at,
    patterns.pattern_id,
    lives.removed_on is not null as is_removed
from lives
left join patterns on lives.meter_id = patterns.meter_id
