select
    cast(meter_id as varchar) as meter_id,
    cast(measured_at as timestamptz) as measured_at,
    cast(value as double) as reading_value,
    cast(unit as varchar) as unit,
    cast(extracted_at as timestamptz) as extracted_at
from {{ source('landing', 'readings') }}
