select
    tenancy_id,
    flat_id,
    tenant,
    starts_on,
    ends_on,
    persons,
    monthly_prepayment_eur
from {{ ref('tenancies') }}
