select
    cost_item,
    starts_on,
    ends_on,
    amount_eur
from {{ ref('invoices') }}
