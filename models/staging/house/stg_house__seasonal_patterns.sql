select
    meter_id,
    month as month_number,
    share_pct
from {{ ref('seasonal_patterns') }}
