{#-
    The landed Tibber hours (tombstones applied), one row per home and hour:
    the latest extraction wins, so a corrected hour replaces what Tibber
    reported before, a null included.
-#}
with hours as (
    select * from {{ ref('stg_landing__tibber_hours') }}
),

latest as (
    select * from hours
    qualify row_number() over (
        partition by home_id, hour_start_at
        order by extracted_at desc
    ) = 1
)

select * from latest
