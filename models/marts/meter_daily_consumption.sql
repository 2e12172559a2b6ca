select
    meter_id,
    meter_type,
    unit,
    day,
    day_start_at,
    consumption,
    is_estimated,
    is_partial,
    is_measurement_backed
from {{ ref('int_daily_consumption_unioned') }}
