{#-
    Every landed reading (tombstones applied) with whether a later
    extraction of the same meter and instant superseded it: the latest
    extraction wins, the older ones are a correction at the source.
-#}
with readings as (
    select * from {{ ref('stg_landing__readings') }}
),

versioned as (
    select
        meter_id,
        measured_at,
        reading_value,
        unit,
        extracted_at,
        row_number() over (
            partition by meter_id, measured_at
            order by extracted_at desc
        ) > 1 as is_superseded
    from readings
)

select * from versioned
