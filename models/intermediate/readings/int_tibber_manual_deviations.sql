{#-
    Manual readings of the Tibber meter inside the Tibber stretch, compared
    with the Tibber counter at the same instant (linear inside the hour).
-#}
with manual as (
    select * from {{ ref('int_readings_cleaned') }}
    where meter_id = '{{ var("tibber_meter_id") }}'
),

counter as (
    select
        *,
        lead(reading_at) over (order by reading_at) as next_at,
        lead(reading_value) over (order by reading_at) as next_value
    from {{ ref('int_tibber_counter') }}
),

compared as (
    select
        manual.meter_id,
        manual.measured_at,
        manual.reading_value as manual_value,
        case
            when manual.measured_at = counter.reading_at
                then counter.reading_value
            else
                counter.reading_value
                + (counter.next_value - counter.reading_value)
                * (epoch(manual.measured_at) - epoch(counter.reading_at))
                / (epoch(counter.next_at) - epoch(counter.reading_at))
        end as counter_value
    from manual
    inner join counter
        on
            manual.measured_at >= counter.reading_at
            and (
                manual.measured_at < counter.next_at
                or (
                    counter.next_at is null
                    and manual.measured_at = counter.reading_at
                )
            )
)

select
    meter_id,
    measured_at,
    manual_value,
    counter_value,
    manual_value - counter_value as difference,
    abs(manual_value - counter_value)
    > {{ var('tibber_manual_tolerance') }} * abs(counter_value)
        as is_beyond_tolerance
from compared
