{#-
    Local time, independent of the session's TimeZone setting.
    `local_midnight(date)`: the UTC instant (timestamptz) of that local date's 00:00.
    `local_date(instant)`: the local calendar date an instant falls on.
    `as_of()`: the instant everything is bounded by (the run's context).
-#}

{% macro local_midnight(date_expression) -%}
    {{ return(adapter.dispatch('local_midnight')(date_expression)) }}
{%- endmacro %}

{% macro default__local_midnight(date_expression) -%}
    timezone('{{ var("timezone") }}', cast({{ date_expression }} as timestamp))
{%- endmacro %}

{% macro local_date(instant_expression) -%}
    {{ return(adapter.dispatch('local_date')(instant_expression)) }}
{%- endmacro %}

{% macro default__local_date(instant_expression) -%}
    cast(timezone('{{ var("timezone") }}', {{ instant_expression }}) as date)
{%- endmacro %}

{% macro as_of() -%}
    {{ return(adapter.dispatch('as_of')()) }}
{%- endmacro %}

{% macro default__as_of() -%}
    (select max(as_of_at) from {{ ref('stg_landing__run_context') }})
{%- endmacro %}

{#- Days as a fractional number, the unit of time weights. -#}
{% macro days_since_epoch(instant_expression) -%}
    (epoch_us({{ instant_expression }}) / 86400000000.0)
{%- endmacro %}
