{#-
    Seasonal shares normalised to sum to 1 per meter. Meters with the same
    twelve shares get the same pattern_id, so the weight calendar is built
    once per distinct pattern.
-#}
{{ config(materialized='view', tags=['static']) }}
with patterns as (
    select * from {{ ref('stg_house__seasonal_patterns') }}
),

normalised as (
    select
        meter_id,
        month_number,
        share_pct / sum(share_pct) over (partition by meter_id) as share
    from patterns
),

identified as (
    select
        meter_id,
        md5(
            string_agg(
                cast(round(share, 12) as varchar), ','
                order by month_number
            )
        ) as pattern_id
    from normalised
    group by meter_id
)

select
    normalised.meter_id,
    identified.pattern_id,
    normalised.month_number,
    normalised.share
from normalised
inner join identified on normalised.meter_id = identified.meter_id
