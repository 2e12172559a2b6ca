-- Every meter has a known type and a unit the conversions know, named by
-- meter so the error points at the row to fix.
select
    meter_id,
    meter_type,
    unit,
    case
        when meter_type not in ('physical', 'master', 'virtual')
            then
                'meter_type ' || coalesce(meter_type, 'null')
                || ' is not physical, master or virtual'
        else
            'unit ' || coalesce(unit, 'null')
            || ' is not one of kWh, MWh, m³'
    end as problem
from {{ ref('stg_house__meters') }}
where
    meter_type not in ('physical', 'master', 'virtual')
    or unit not in ('kWh', 'MWh', 'm³')
