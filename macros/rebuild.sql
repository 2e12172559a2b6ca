{#-
    Incremental builds (pipeline/rebuild.py decides and writes the scope).
    `rebuilt(meter_column, instant_column, window, lookback_days)`: true for
    the rows this build recomputes. In a full build, every row. In an
    incremental one, the rows of the meters in main.rebuild_meters and, for
    every meter, the rows whose instant lies at or after main.rebuild_window's
    `window` column (day_start_at, month_start_at or cost_day_start_at),
    moved back by lookback_days. Either column may be none to leave that part
    out. The scope is read when the model runs and written into its SQL as
    constants, so DuckDB filters the big tables while scanning them.
    `delete_rebuilt(...)`: the pre-hook that removes those rows first, so
    the model's select, appended, replaces exactly them.
    Unit tests (no `this`) test the full build; without a written scope
    (`dbt docs generate` after a full build) the SQL is the full build's.
-#}

{% macro rebuilding_incrementally() -%}
    {%- if not (execute and this is not none and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set scope = adapter.get_relation(
        database=this.database, schema='main', identifier='rebuild_window'
    ) -%}
    {{ return(scope is not none) }}
{%- endmacro %}

{% macro rebuild_scope() -%}
    {%- set window = run_query(
        'select day_start_at, month_start_at, cost_day_start_at'
        ~ ' from main.rebuild_window'
    ) -%}
    {%- set meters = run_query(
        'select meter_id from main.rebuild_meters order by meter_id'
    ) -%}
    {{ return({
        'day_start_at': window.columns[0].values()[0],
        'month_start_at': window.columns[1].values()[0],
        'cost_day_start_at': window.columns[2].values()[0],
        'meter_ids': meters.columns[0].values(),
    }) }}
{%- endmacro %}

{% macro rebuilt(
    meter_column, instant_column, window='day_start_at', lookback_days=0
) -%}
    {%- if rebuilding_incrementally() -%}
        {%- set scope = rebuild_scope() -%}
        {%- set parts = [] -%}
        {%- if meter_column and scope.meter_ids -%}
            {%- set quoted = [] -%}
            {%- for meter_id in scope.meter_ids -%}
                {%- do quoted.append("'" ~ meter_id | replace("'", "''") ~ "'") -%}
            {%- endfor -%}
            {%- do parts.append(meter_column ~ ' in (' ~ quoted | join(', ') ~ ')') -%}
        {%- endif -%}
        {%- if instant_column -%}
            {%- do parts.append(
                instant_column ~ " >= timestamptz '" ~ scope[window] ~ "'"
                ~ " - interval " ~ lookback_days ~ " day"
            ) -%}
        {%- endif -%}
        ({{ parts | join(' or ') if parts else 'false' }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_rebuilt(meter_column, instant_column, window='day_start_at') -%}
    {%- if rebuilding_incrementally() -%}
        delete from {{ this }}
        where {{ rebuilt(meter_column, instant_column, window) }}
    {%- endif -%}
{%- endmacro %}
