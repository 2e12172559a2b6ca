{#-
    The unit of each measure: the unit of its first meter in the
    flat_meters seed. Every meter of the measure converts to it
    (assert_billing_configuration_is_consistent).
-#}
with flat_meters as (
    select * from {{ ref('stg_billing__flat_meters') }}
),

meters as (
    select * from {{ ref('stg_house__meters') }}
)

select
    flat_meters.measure,
    arg_min(meters.unit, flat_meters.meter_order) as unit
from flat_meters
inner join meters on flat_meters.meter_id = meters.meter_id
group by flat_meters.measure
