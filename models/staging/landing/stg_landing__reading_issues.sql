select
    cast(meter_id as varchar) as meter_id,
    cast(measured_at as timestamptz) as measured_at,
    cast(issue as varchar) as issue,
    cast(value as varchar) as raw_value,
    cast(unit as varchar) as unit,
    cast(extracted_at as timestamptz) as extracted_at
from {{ source('landing', 'reading_issues') }}
