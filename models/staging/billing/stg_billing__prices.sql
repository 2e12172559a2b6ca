select
    price_id,
    valid_from,
    valid_to,
    unit,
    unit_price_eur,
    base_fee_eur_per_year
from {{ ref('prices') }}
