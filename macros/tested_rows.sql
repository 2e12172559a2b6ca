{#-
    Data tests of an incremental build test the rows it rebuilt: the
    scope it applies (macros/rebuild.sql) says so (tests_rebuilt_only),
    unless the run asks for all tests (`--full-tests`); a full build, or a
    dbt run without a scope, tests every row.
    Generic tests: get_where_subquery (dbt's hook for the `where` config)
    restricts the model a test reads to the rows `tested_rows` names, for
    the models in `tested_columns`; any other model is read whole.
    Singular tests call `tested_rows` themselves.
    The rows: those the build rebuilt (macros/rebuild.sql), each start moved
    back by `lookback_days`, so a test comparing a row with the one before
    (valid_rows: a series) also sees the last row kept from before.
-#}

{#- Per tested model: meter column, instant column (none: whole meters),
    grain of the rebuild window, lookback in days. -#}
{% macro tested_columns() -%}
    {%- set day = 'day_start_at' -%}
    {%- set month = 'month_start_at' -%}
    {{ return({
        'base_landing__readings': ['meter_id', none, day, 0],
        'base_landing__tibber_hours': [
            none, 'hour_start_at', 'cost_day_start_at', 0
        ],
        'int_readings_classified': ['meter_id', none, day, 0],
        'int_readings_cleaned': ['meter_id', none, day, 0],
        'int_readings_combined': ['meter_id', none, day, 0],
        'int_reading_segments': ['meter_id', none, day, 0],
        'int_reading_intervals_judged': ['meter_id', none, day, 0],
        'int_daily_readings_interpolated': ['meter_id', 'reading_at', day, 2],
        'int_master_readings_combined': ['meter_id', 'reading_at', day, 2],
        'int_daily_consumption_physical': ['meter_id', 'day_start_at', day, 2],
        'int_daily_consumption_master': ['meter_id', 'day_start_at', day, 2],
        'int_daily_consumption_virtual': ['meter_id', 'day_start_at', day, 2],
        'meter_daily_readings': ['meter_id', 'day_start_at', day, 2],
        'meter_daily_consumption': ['meter_id', 'day_start_at', day, 2],
        'meter_anomalies': ['meter_id', 'day_start_at', day, 2],
        'meter_monthly_readings': ['meter_id', 'month_start_at', month, 32],
        'meter_monthly_consumption': ['meter_id', 'month_start_at', month, 32],
        'electricity_daily_cost': [
            none, 'day_start_at', 'cost_day_start_at', 2
        ],
    }) }}
{%- endmacro %}

{#- The scope whose rebuilt rows the data tests read; none: every row. -#}
{% macro tested_scope() -%}
    {%- set scope = applied_scope() -%}
    {{ return(
        scope if scope is not none and scope.tests_rebuilt_only else none
    ) }}
{%- endmacro %}

{#- A condition: true for the rows the data tests read (all of them unless
    this build tests its rebuilt rows only). -#}
{% macro tested_rows(
    meter_column, instant_column, window='day_start_at', lookback_days=0
) -%}
    {{- rebuilt_condition(
        meter_column, instant_column, window, lookback_days, tested_scope()
    ) -}}
{%- endmacro %}

{#- A condition on `instant_column`: true from the earliest instant of the
    rows the data tests read on (every row when they read all, or a whole
    meter). For a test that looks up other rows of the tested instants,
    e.g. the components' days of the tested virtual days: a constant, so
    DuckDB skips the older row groups. -#}
{% macro tested_since(instant_column, window='day_start_at') -%}
    {%- set scope = tested_scope() -%}
    {%- if scope is none -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set starts = [scope.window[window]] -%}
    {%- for meter in scope.rebuilt -%}
        {%- if meter[window] is none -%}
            {{ return('true') }}
        {%- endif -%}
        {%- do starts.append(meter[window]) -%}
    {%- endfor -%}
    {{- instant_column }} >= {{ instant_literal(starts | min) -}}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set columns = tested_columns().get(relation.identifier) -%}
    {%- set scope = tested_scope() if columns else none -%}
    {%- if scope is not none -%}
        {%- set restriction = rebuilt_condition(*columns, scope=scope) -%}
        {%- set where = '(' ~ where ~ ') and ' ~ restriction
            if where else restriction -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
