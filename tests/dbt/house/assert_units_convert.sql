-- Every unit the house converts from or to is a known pair (the gas factor
-- comes from the vars), and every declared source or component unit is the
-- unit of the meter it names.
with meters as (
    select * from {{ ref('stg_house__meters') }}
),

conversions as (
    select * from {{ ref('int_unit_conversions') }}
),

needed as (
    select
        periods.meter_id,
        periods.source_meter_id as other_meter_id,
        periods.source_unit as from_unit,
        masters.unit as to_unit
    from {{ ref('stg_house__master_meter_periods') }} as periods
    left join meters as masters on periods.meter_id = masters.meter_id
    union all
    select
        components.meter_id,
        components.component_meter_id,
        components.component_unit,
        virtuals.unit
    from {{ ref('stg_house__virtual_meter_components') }} as components
    left join meters as virtuals on components.meter_id = virtuals.meter_id
)

select
    needed.meter_id,
    needed.other_meter_id,
    case
        when conversions.factor is null
            then
                'cannot convert ' || coalesce(needed.from_unit, 'null')
                || ' to ' || coalesce(needed.to_unit, 'null')
        else
            'declares ' || needed.from_unit || ' for ' || needed.other_meter_id
            || ', whose unit is ' || others.unit
    end as problem
from needed
left join conversions
    on
        needed.from_unit = conversions.from_unit
        and needed.to_unit = conversions.to_unit
left join meters as others on needed.other_meter_id = others.meter_id
where
    conversions.factor is null
    or (others.unit is not null and others.unit <> needed.from_unit)
