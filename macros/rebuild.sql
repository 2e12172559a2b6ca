{#-
    Incremental builds (pipeline/rebuild.py decides and writes the scope).
    In a full build every row is rebuilt. In an incremental one:
    - every meter's rows from main.rebuild_window's day (months: its month;
      Tibber cost: its cost day), what a moving as_of changes;
    - the rebuilt meters' rows from their own day and month in
      main.rebuild_meters (null: all their rows), what new readings change.
    `rebuilt(meter_column, instant_column, window, lookback_days)`: true for
    the rows this build recomputes; `window` names the grain (day_start_at,
    month_start_at or cost_day_start_at); lookback_days moves every start
    back; without instant_column, every row of a rebuilt meter.
    `rebuilt_rows(relation, instant_column, ...)`: those rows of a big table,
    as a union of separate scans that DuckDB prunes by its zone maps, not one
    scan with an OR; meters='read' reads also the meters the rebuilt ones are
    built on, from where those are rebuilt; `also`: older rows matching a
    condition.
    `delete_rebuilt(...)`: the pre-hook that removes them first, so the
    model's select, appended, replaces exactly them.
    The scope is read when the model runs and written into its SQL as
    constants. Unit tests (no `this`) test the full build; without a written
    scope (`dbt docs generate` after a full build) the SQL is the full build's.
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
        'select meter_id, kind, day_start_at, month_start_at'
        ~ ' from main.rebuild_meters order by meter_id'
    ) -%}
    {%- set scope = {
        'window': {
            'day_start_at': window.columns[0].values()[0],
            'month_start_at': window.columns[1].values()[0],
            'cost_day_start_at': window.columns[2].values()[0],
        },
        'rebuilt': [],
        'read': [],
    } -%}
    {%- for row in meters.rows -%}
        {%- set meter = {
            'meter_id': row[0],
            'day_start_at': row[2],
            'month_start_at': row[3],
        } -%}
        {%- do scope[row[1]].append(meter) -%}
    {%- endfor -%}
    {{ return(scope) }}
{%- endmacro %}

{% macro instant_literal(iso, lookback_days=0) -%}
    (timestamptz '{{ iso }}' - interval {{ lookback_days }} day)
{%- endmacro %}

{#- The rows of `meters` (rebuilt or read) in the scope, as SQL. -#}
{% macro meter_rows(
    meters, meter_column, instant_column, window, lookback_days=0
) -%}
    {%- set whole = [] -%}
    {%- set parts = [] -%}
    {%- for meter in meters -%}
        {%- set quoted = "'" ~ meter.meter_id | replace("'", "''") ~ "'" -%}
        {%- set start = meter[window] if window in meter else none -%}
        {%- if instant_column is none or start is none -%}
            {%- do whole.append(quoted) -%}
        {%- else -%}
            {%- do parts.append(
                '(' ~ meter_column ~ ' = ' ~ quoted ~ ' and ' ~ instant_column
                ~ ' >= ' ~ instant_literal(start, lookback_days) ~ ')'
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if whole -%}
        {%- do parts.append(meter_column ~ ' in (' ~ whole | join(', ') ~ ')') -%}
    {%- endif -%}
    ({{ parts | join(' or ') if parts else 'false' }})
{%- endmacro %}

{#- The rows of the rebuild scope: the rebuilt meters from their day on, and
    every meter from the window's start on (used by `rebuilt` and by the data
    tests' `tested_rows`). -#}
{% macro rebuilt_condition(
    meter_column, instant_column, window='day_start_at', lookback_days=0
) -%}
    {%- set scope = rebuild_scope() -%}
    (
    {%- if meter_column -%}
        {{ meter_rows(
            scope.rebuilt, meter_column, instant_column, window, lookback_days
        ) }}
    {%- else -%}
        false
    {%- endif -%}
    {%- if instant_column %}
        or {{ instant_column }} >= {{
            instant_literal(scope.window[window], lookback_days)
        }}
    {%- endif -%}
    )
{%- endmacro %}

{% macro rebuilt(
    meter_column, instant_column, window='day_start_at', lookback_days=0
) -%}
    {%- if rebuilding_incrementally() -%}
        {{- rebuilt_condition(meter_column, instant_column, window, lookback_days) -}}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

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
        {%- set start = instant_literal(scope.window[window], lookback_days) -%}
        select * from {{ relation }} where {{ instant_column }} >= {{ start }}
        {%- if scope[meters] %}
        union all
        select * from {{ relation }}
        where
            {{ instant_column }} < {{ start }}
            and {{ meter_rows(
                scope[meters], 'meter_id', instant_column, window, lookback_days
            ) }}
        {%- endif %}
        {%- if also %}
        union all
        select * from {{ relation }}
        where
            {{ instant_column }} < {{ start }}
            and not {{ meter_rows(
                scope[meters], 'meter_id', instant_column, window, lookback_days
            ) }}
            and {{ also }}
        {%- endif %}
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- Separate deletes, each pruned by zone maps, rather than one with an OR. -#}
{% macro delete_rebuilt(meter_column, instant_column, window='day_start_at') -%}
    {%- if rebuilding_incrementally() -%}
        {%- set scope = rebuild_scope() -%}
        {%- if instant_column -%}
            delete from {{ this }}
            where {{ instant_column }} >= {{
                instant_literal(scope.window[window])
            }};
        {%- endif %}
        {%- if meter_column and scope.rebuilt %}
            delete from {{ this }}
            where {{ meter_rows(
                scope.rebuilt, meter_column, instant_column, window
            ) }};
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
