{#-
    The landed Tibber hours (rename and cast), without the rows a later
    tombstone removed: an hour Tibber no longer reports is no hour.
-#}
with landed as (
    select * from {{ source('landing', 'tibber_hours') }}
),

deletions as (
    select * from {{ source('landing', 'tibber_hours_deleted') }}
)

select
    cast(landed.home_id as varchar) as home_id,
    cast(landed.hour_start_at as timestamptz) as hour_start_at,
    cast(landed.hour_end_at as timestamptz) as hour_end_at,
    cast(landed.consumption as double) as consumption_kwh,
    cast(landed.cost as double) as cost,
    cast(landed.unit_price as double) as unit_price,
    cast(landed.unit_price_vat as double) as unit_price_vat,
    cast(landed.currency as varchar) as currency,
    cast(landed.extracted_at as timestamptz) as extracted_at
from landed
where not exists (
    select 1 as found from deletions
    where
        deletions.home_id = landed.home_id
        and deletions.hour_start_at = landed.hour_start_at
        and deletions.extracted_at > landed.extracted_at
)
