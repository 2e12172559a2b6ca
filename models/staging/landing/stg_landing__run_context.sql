select cast(as_of_at as timestamptz) as as_of_at
from {{ source('landing', 'run_context') }}
