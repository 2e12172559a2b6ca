{#-
    Incremental builds (pipeline/rebuild.py decides and writes the scope).
    `rebuilt(meter_column, instant_column, window, lookback_days)`: true for
    the rows this build recomputes. In a full build, every row. In an
    incremental one, the rows of the rebuilt meters (main.rebuild_meters)
    and, for
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
        'select meter_id, is_rebuilt from main.rebuild_meters order by meter_id'
    ) -%}
    {%- set rebuilt_ids = [] -%}
    {%- set read_ids = [] -%}
    {%- for row in meters.rows -%}
        {%- do read_ids.append(row[0]) -%}
        {%- if row[1] -%}{%- do rebuilt_ids.append(row[0]) -%}{%- endif -%}
    {%- endfor -%}
    {{ return({
        'day_start_at': window.columns[0].values()[0],
        'month_start_at': window.columns[1].values()[0],
        'cost_day_start_at': window.columns[2].values()[0],
        'rebuilt': rebuilt_ids,
        'read': read_ids,
    }) }}
{%- endmacro %}

{% macro rebuilt(
    meter_column, instant_column, window='day_start_at', lookback_days=0
) -%}
    {%- if rebuilding_incrementally() -%}
        {%- set scope = rebuild_scope() -%}
        {%- set parts = [] -%}
        {%- if meter_column and scope.rebuilt -%}
            {%- do parts.append(
                meter_column ~ ' in ' ~ quoted_list(scope.rebuilt)
            ) -%}
        {%- endif -%}
        {%- if instant_column -%}
            {%- do parts.append(
                instant_column ~ ' >= ' ~ window_start(scope, window, lookback_days)
            ) -%}
        {%- endif -%}
        ({{ parts | join(' or ') if parts else 'false' }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro quoted_list(values) -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ value | replace("'", "''") ~ "'") -%}
    {%- endfor -%}
    ({{ quoted | join(', ') }})
{%- endmacro %}

{% macro window_start(scope, window, lookback_days=0) -%}
    (timestamptz '{{ scope[window] }}' - interval {{ lookback_days }} day)
{%- endmacro %}

{#-
    `rebuilt_rows(relation, instant_column, ...)`: the rows of a big table
    (one per meter and day or month) that a model reads: all of them in a
    full build; else the rows from the window on, plus the older rows of
    the rebuilt meters (meters='read': also of the meters they are built
    on), plus the older rows matching `also`. As a union of separate scans,
    each of which DuckDB prunes by its zone maps, not one scan with an OR.
-#}
{% macro rebuilt_rows(
    relation,
    instant_column,
    window='day_start_at',
    lookback_days=0,
    meters='rebuilt',
    also=none
) -%}
    {%- if rebuilding_incrementally() -%}
        {%- set scope = rebuild_scope() -%}
        {%- set start = window_start(scope, window, lookback_days) -%}
        select * from {{ relation }} where {{ instant_column }} >= {{ start }}
        {%- if scope[meters] %}
        union all
        select * from {{ relation }}
        where
            {{ instant_column }} < {{ start }}
            and meter_id in {{ quoted_list(scope[meters]) }}
        {%- endif %}
        {%- if also %}
        union all
        select * from {{ relation }}
        where
            {{ instant_column }} < {{ start }}
            {%- if scope[meters] %}
            and meter_id not in {{ quoted_list(scope[meters]) }}
            {%- endif %}
            and {{ also }}
        {%- endif %}
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- Two deletes, each pruned by zone maps, rather than one with an OR. -#}
{% macro delete_rebuilt(meter_column, instant_column, window='day_start_at') -%}
    {%- if rebuilding_incrementally() -%}
        {%- set scope = rebuild_scope() -%}
        {%- if instant_column -%}
            delete from {{ this }}
            where {{ instant_column }} >= {{ window_start(scope, window) }};
        {%- endif %}
        {%- if meter_column and scope.rebuilt %}
            delete from {{ this }}
            where {{ meter_column }} in {{ quoted_list(scope.rebuilt) }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
