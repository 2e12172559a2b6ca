select
    meter_id,
    period as period_number,
    starts_on,
    ends_on,
    composition,
    source_meter_id,
    source_unit,
    carry_offset as has_carry_offset
from {{ ref('master_meter_periods') }}
