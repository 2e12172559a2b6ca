{#- Every unit pair the house may convert between, with its factor. -#}
{{ config(materialized='view', tags=['static']) }}
{%- set gas_kwh_per_m3 = "cast(" ~ var('gas_energy_content_kwh_per_m3')
    ~ " as double) * cast(" ~ var('gas_z_factor') ~ " as double)" -%}

with conversions as (
    select * from (
        values
        ('kWh', 'kWh', 1.0),
        ('MWh', 'MWh', 1.0),
        ('m³', 'm³', 1.0),
        ('MWh', 'kWh', 1000.0),
        ('kWh', 'MWh', 0.001),
        ('m³', 'kWh', {{ gas_kwh_per_m3 }}),
        ('kWh', 'm³', 1.0 / ({{ gas_kwh_per_m3 }})),
        ('m³', 'MWh', {{ gas_kwh_per_m3 }} / 1000.0),
        ('MWh', 'm³', 1000.0 / ({{ gas_kwh_per_m3 }}))
    ) as conversion (from_unit, to_unit, factor)  -- noqa: AL05
)

select
    cast(from_unit as varchar) as from_unit,
    cast(to_unit as varchar) as to_unit,
    cast(factor as double) as factor
from conversions
