select
    meter_id,
    component_meter_id,
    role as component_role,
    component_unit
from {{ ref('virtual_meter_components') }}
