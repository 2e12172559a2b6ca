{#-
    Every cost item's amount of a period divided among the period's
    occupancies (vacancies included), one row per occupancy, item and part:
    - consumption: consumption_pct % of the amount by the occupancies'
      consumption bases of the item's measure; when their total is 0, by
      the fixed key instead;
    - fixed: the rest by fixed_key weighted by days (area x days,
      persons x days, 1 x days); a key whose total is 0 (persons, all
      vacant) falls back to units;
    - metered (metered_flats): each occupancy's own priced consumption;
    - base_fee (metered_flats): the item's base fees by fixed_key.
    Shares are taken over the whole period, so the parts add up to the
    item's amount exactly. Split parents are not allocated.
-#}
with items as (
    select * from {{ ref('stg_billing__cost_items') }}
),

amounts as (
    select * from {{ ref('int_billing_item_amounts') }}
    where not is_parent
),

occupancies as (
    select * from {{ ref('int_billing_occupancies') }}
),

occupancy_days as (
    select * from {{ ref('int_billing_occupancy_days') }}
),

bases as (
    select * from {{ ref('int_billing_bases') }}
),

measure_units as (
    select * from {{ ref('int_billing_measure_units') }}
),

priced as (
    select * from {{ ref('int_billing_priced_consumption') }}
    where flat_id is not null
),

keys as (
    select * from (
        values
        ('living_area', 'm²·days'),
        ('heated_area', 'm²·days'),
        ('persons', 'persons·days'),
        ('units', 'units·days')
    ) as fixed_keys (fixed_key, weight_unit)  -- noqa: AL05
),

weights as (
    select
        occupancies.period,
        occupancies.period_start,
        occupancies.occupancy_id,
        keys.fixed_key,
        keys.weight_unit,
        case keys.fixed_key
            when
                'living_area'
                then occupancies.living_area_m2 * occupancies.days
            when
                'heated_area'
                then occupancies.heated_area_m2 * occupancies.days
            when 'persons' then occupancies.person_days
            else occupancies.days
        end as weight
    from occupancies
    cross join keys
),

weight_totals as (
    select
        period,
        period_start,
        fixed_key,
        sum(weight) as total_weight
    from weights
    group by period, period_start, fixed_key
),

item_occupancies as (
    select
        amounts.period,
        amounts.period_start,
        amounts.year,
        amounts.cost_item,
        amounts.amount_eur,
        amounts.base_fee_eur,
        amounts.is_estimated as is_item_estimated,
        items.amount_source,
        items.consumption_pct,
        items.measure,
        items.fixed_key,
        occupancies.occupancy_id
    from amounts
    inner join items on amounts.cost_item = items.cost_item
    inner join occupancies
        on
            amounts.period = occupancies.period
            and amounts.period_start = occupancies.period_start
),

consumption_bases as (
    select
        item_occupancies.*,
        measure_units.unit as basis_unit,
        coalesce(bases.basis, 0.0) as flat_basis,
        sum(coalesce(bases.basis, 0.0)) over part as total_basis,
        coalesce(bool_or(bases.is_estimated) over part, false)
            as is_basis_estimated
    from item_occupancies
    left join bases
        on
            item_occupancies.period = bases.period
            and item_occupancies.period_start = bases.period_start
            and item_occupancies.occupancy_id = bases.occupancy_id
            and item_occupancies.measure = bases.measure
    left join measure_units on item_occupancies.measure = measure_units.measure
    where
        item_occupancies.amount_source != 'metered_flats'
        and item_occupancies.consumption_pct > 0
    window part as (
        partition by
            item_occupancies.period,
            item_occupancies.period_start,
            item_occupancies.cost_item
    )
),

consumption_lines as (
    select
        period,
        period_start,
        year,
        cost_item,
        occupancy_id,
        'consumption' as part,
        measure as allocation_key,
        basis_unit,
        flat_basis,
        total_basis,
        amount_eur * consumption_pct / 100 as part_amount_eur,
        is_item_estimated or is_basis_estimated as is_estimated
    from consumption_bases
    where total_basis != 0
),

-- Parts divided by a fixed key, with the key they are divided by.
fixed_parts as (
    select  -- noqa: AM07
        period,
        period_start,
        year,
        cost_item,
        occupancy_id,
        'fixed' as part,
        fixed_key,
        amount_eur * (100 - consumption_pct) / 100 as part_amount_eur,
        is_item_estimated as is_estimated
    from item_occupancies
    where amount_source != 'metered_flats' and consumption_pct < 100
    union all
    select
        period,
        period_start,
        year,
        cost_item,
        occupancy_id,
        'consumption' as part,
        fixed_key,
        amount_eur * consumption_pct / 100 as part_amount_eur,
        is_item_estimated or is_basis_estimated as is_estimated
    from consumption_bases
    where total_basis = 0
    union all
    select
        period,
        period_start,
        year,
        cost_item,
        occupancy_id,
        'base_fee' as part,
        fixed_key,
        base_fee_eur as part_amount_eur,
        false as is_estimated
    from item_occupancies
    where amount_source = 'metered_flats' and base_fee_eur != 0
),

fixed_lines as (
    select
        fixed_parts.period,
        fixed_parts.period_start,
        fixed_parts.year,
        fixed_parts.cost_item,
        fixed_parts.occupancy_id,
        fixed_parts.part,
        weights.fixed_key as allocation_key,
        weights.weight_unit as basis_unit,
        weights.weight as flat_basis,
        effective_totals.total_weight as total_basis,
        fixed_parts.part_amount_eur,
        fixed_parts.is_estimated
    from fixed_parts
    inner join weight_totals as key_totals
        on
            fixed_parts.period = key_totals.period
            and fixed_parts.period_start = key_totals.period_start
            and fixed_parts.fixed_key = key_totals.fixed_key
    inner join weight_totals as effective_totals
        on
            fixed_parts.period = effective_totals.period
            and fixed_parts.period_start = effective_totals.period_start
            and effective_totals.fixed_key = case
                when key_totals.total_weight = 0 then 'units'
                else key_totals.fixed_key
            end
    inner join weights
        on
            fixed_parts.period = weights.period
            and fixed_parts.period_start = weights.period_start
            and fixed_parts.occupancy_id = weights.occupancy_id
            and effective_totals.fixed_key = weights.fixed_key
),

metered as (
    select
        occupancy_days.period,
        occupancy_days.period_start,
        occupancy_days.occupancy_id,
        priced.cost_item,
        sum(priced.amount_eur) as amount_eur,
        sum(priced.measure_consumption) as flat_basis,
        bool_or(priced.is_estimated) as is_estimated
    from priced
    inner join occupancy_days
        on
            priced.flat_id = occupancy_days.flat_id
            and priced.day = occupancy_days.day
    group by
        occupancy_days.period,
        occupancy_days.period_start,
        occupancy_days.occupancy_id,
        priced.cost_item
),

metered_lines as (
    select
        item_occupancies.period,
        item_occupancies.period_start,
        item_occupancies.year,
        item_occupancies.cost_item,
        item_occupancies.occupancy_id,
        'metered' as part,
        item_occupancies.measure as allocation_key,
        measure_units.unit as basis_unit,
        coalesce(metered.flat_basis, 0.0) as flat_basis,
        sum(coalesce(metered.flat_basis, 0.0)) over part as total_basis,
        sum(coalesce(metered.amount_eur, 0.0)) over part as part_amount_eur,
        -- The occupancy pays its own priced consumption.
        coalesce(metered.amount_eur, 0.0) as metered_eur,
        coalesce(metered.is_estimated, false) as is_estimated
    from item_occupancies
    left join metered
        on
            item_occupancies.period = metered.period
            and item_occupancies.period_start = metered.period_start
            and item_occupancies.occupancy_id = metered.occupancy_id
            and item_occupancies.cost_item = metered.cost_item
    left join measure_units on item_occupancies.measure = measure_units.measure
    where item_occupancies.amount_source = 'metered_flats'
    window part as (
        partition by
            item_occupancies.period,
            item_occupancies.period_start,
            item_occupancies.cost_item
    )
),

shared_lines as (
    select * from consumption_lines  -- noqa: AM07
    union all
    select * from fixed_lines
)

select  -- noqa: AM07
    *,
    flat_basis / total_basis as share,
    part_amount_eur * flat_basis / total_basis as amount_eur
from shared_lines
union all
select
    * exclude (metered_eur),
    case when total_basis != 0 then flat_basis / total_basis end as share,
    metered_eur as amount_eur
from metered_lines
