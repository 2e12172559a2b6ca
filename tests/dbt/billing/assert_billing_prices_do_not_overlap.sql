-- Periods of one price_id never overlap (valid_from to valid_to inclusive,
-- valid_to empty = ongoing); named by price_id and valid_from.
with prices as (
    select * from {{ ref('stg_billing__prices') }}
)

select
    earlier.price_id,
    earlier.valid_from,
    later.valid_from as overlapping_valid_from,
    'price ' || earlier.price_id || ' valid from '
    || cast(earlier.valid_from as varchar) || ' overlaps its period valid from '
    || cast(later.valid_from as varchar) || ': set valid_to before the next'
    || ' valid_from' as problem
from prices as earlier
inner join prices as later
    on
        earlier.price_id = later.price_id
        and (
            earlier.valid_from < later.valid_from
            or (
                earlier.valid_from = later.valid_from
                and earlier.unit < later.unit
            )
        )
        and later.valid_from <= coalesce(earlier.valid_to, date '9999-12-31')
