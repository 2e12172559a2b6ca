-- Consumption between two readings is conserved: every counter value the
-- gap filling produces lies between the surrounding readings (so nothing is
-- invented or lost), a reading taken at a local midnight is honoured
-- exactly, and a meter's daily consumption adds up to its last counter
-- value minus its first (an incremental build tests its rebuilt rows: from
-- each meter's first rebuilt day on, which adds up the same way).
with readings as (
    select * from {{ ref('int_readings_combined') }}
),

daily as (
    select * from {{ ref('int_daily_readings_interpolated') }}
    where {{ tested_rows('meter_id', 'reading_at') }}
),

bounded as (
    select
        daily.meter_id,
        daily.reading_at,
        daily.reading_value,
        previous_reading.reading_value as previous_value,
        next_reading.reading_value as next_value
    from daily
    inner join readings as previous_reading
        on
            daily.meter_id = previous_reading.meter_id
            and daily.previous_reading_at = previous_reading.reading_at
    inner join readings as next_reading
        on
            daily.meter_id = next_reading.meter_id
            and daily.next_reading_at = next_reading.reading_at
),

outside as (
    select
        meter_id,
        reading_at,
        'counter ' || reading_value || ' outside its readings '
        || previous_value || '..' || next_value as problem
    from bounded
    where
        reading_value < previous_value - 1e-9 * abs(previous_value)
        or reading_value > next_value + 1e-9 * abs(next_value)
),

not_honoured as (
    select
        daily.meter_id,
        daily.reading_at,
        'reading ' || readings.reading_value || ' at midnight became '
        || daily.reading_value as problem
    from daily
    inner join readings
        on
            daily.meter_id = readings.meter_id
            and daily.reading_at = readings.reading_at
    where daily.reading_value <> readings.reading_value
),

totals as (
    select
        meter_id,
        sum(consumption) as consumption
    from {{ ref('int_daily_consumption_physical') }}
    where {{ tested_rows('meter_id', 'day_start_at') }}
    group by meter_id
),

spans as (
    select
        meter_id,
        arg_max(reading_value, reading_at) - arg_min(reading_value, reading_at)
            as counter_span
    from daily
    group by meter_id
),

not_adding_up as (
    select
        totals.meter_id,
        null::timestamptz as reading_at,
        'daily consumption adds up to ' || totals.consumption
        || ' but the counter moved ' || spans.counter_span as problem
    from totals
    inner join spans on totals.meter_id = spans.meter_id
    where
        abs(totals.consumption - spans.counter_span)
        > 1e-6 * greatest(abs(spans.counter_span), 1)
)

select * from outside
union all
select * from not_honoured
union all
select * from not_adding_up
