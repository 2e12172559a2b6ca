-- Every pattern has each month 1..12 exactly once, with shares >= 0 and a
-- positive sum.
select
    meter_id,
    count(*) as months,
    count(distinct month_number) as distinct_months,
    'pattern of ' || meter_id || ' has ' || count(distinct month_number)
    || ' distinct months in ' || count(*) || ' rows (needs 1..12 once each)'
    || case when min(share_pct) < 0 then ', and a negative share' else '' end
        as problem
from {{ ref('stg_house__seasonal_patterns') }}
group by meter_id
having
    count(*) <> 12
    or count(distinct month_number) <> 12
    or min(month_number) <> 1
    or max(month_number) <> 12
    or min(share_pct) < 0
    or sum(share_pct) <= 0
