{#- meter_order: the row's position in the seed (the first meter of a
    measure gives the measure its unit). -#}
select
    flat_id,
    meter_id,
    measure,
    row_number() over () as meter_order
from {{ ref('flat_meters') }}
