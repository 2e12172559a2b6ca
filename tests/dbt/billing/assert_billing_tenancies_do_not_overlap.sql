-- Tenancies of one flat never overlap (local days starts_on to ends_on
-- inclusive, ends_on empty = ongoing); named by both tenancy ids.
with tenancies as (
    select * from {{ ref('stg_billing__tenancies') }}
)

select
    earlier.tenancy_id,
    later.tenancy_id as overlapping_tenancy_id,
    earlier.flat_id,
    'tenancy ' || earlier.tenancy_id || ' overlaps tenancy '
    || later.tenancy_id || ' of flat ' || earlier.flat_id
    || ': end one before the other starts' as problem
from tenancies as earlier
inner join tenancies as later
    on
        earlier.flat_id = later.flat_id
        and earlier.tenancy_id < later.tenancy_id
        and earlier.starts_on <= coalesce(later.ends_on, date '9999-12-31')
        and later.starts_on <= coalesce(earlier.ends_on, date '9999-12-31')
