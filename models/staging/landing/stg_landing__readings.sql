{#-
    The landed readings (rename and cast), without the rows a later
    tombstone removed: a reading deleted at the source is no reading.
-#}
with landed as (
    select * from {{ source('landing', 'readings') }}
),

deletions as (
    select * from {{ source('landing', 'readings_deleted') }}
)

select
    cast(landed.meter_id as varchar) as meter_id,
    cast(landed.measured_at as timestamptz) as measured_at,
    cast(landed.value as double) as reading_value,
    cast(landed.unit as varchar) as unit,
    cast(landed.extracted_at as timestamptz) as extracted_at
from landed
where not exists (
    select 1 as found from deletions
    where
        deletions.meter_id = landed.meter_id
        and deletions.measured_at = landed.measured_at
        and deletions.extracted_at > landed.extracted_at
)
