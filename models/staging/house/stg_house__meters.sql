select
    meter_id,
    meter_type,
    utility,
    unit,
    installed_on,
    removed_on,
    description
from {{ ref('meters') }}
