select
    flat_id,
    name as flat_name,
    living_area_m2,
    coalesce(heated_area_m2, living_area_m2) as heated_area_m2
from {{ ref('flats') }}
