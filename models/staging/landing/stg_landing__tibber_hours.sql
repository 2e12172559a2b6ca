select
    cast(home_id as varchar) as home_id,
    cast(hour_start_at as timestamptz) as hour_start_at,
    cast(hour_end_at as timestamptz) as hour_end_at,
    cast(consumption as double) as consumption_kwh,
    cast(cost as double) as cost,
    cast(unit_price as double) as unit_price,
    cast(unit_price_vat as double) as unit_price_vat,
    cast(currency as varchar) as currency,
    cast(extracted_at as timestamptz) as extracted_at
from {{ source('landing', 'tibber_hours') }}
