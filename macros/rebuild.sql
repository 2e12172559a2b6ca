{#-
    Incremental builds (pipeline/rebuild.py decides and writes the scope
    into the source `rebuild`, under an id it gives dbt in the environment
    variable REBUILD_SCOPE_ID: a var would make dbt parse the whole project
    again at every build). In a full build every row is rebuilt. In an
    incremental one that names its scope:
    - every meter's rows from the local day of the window's instant
      (months: its month; Tibber cost: the day of its cost instant), what a
      moving as_of changes;
    - the rebuilt meters' rows from the local day and month of their change
      in rebuild_meters (null: all their rows), what new readings change.
    Those days and months are written beside the instants when dbt starts
    (`resolve_rebuild_scope`, on-run-start).
    A dbt run without that id (by hand, `make dbt`) rebuilds every row of
    the incremental models it builds: a scope applies only to the build
    that wrote it; an id naming no written scope is an error.
    `rebuilt(meter_column, instant_column, window, lookback_days)`: true for
    the rows this build recomputes; `window` names the grain (day_start_at,
    month_start_at or cost_day_start_at); lookback_days moves every start
    back; without instant_column, every row of a rebuilt meter.
    `rebuilt_rows(relation, instant_column, ...)`: those rows of a big table,
    as a union of separate scans that DuckDB prunes by its zone maps, not one
    scan with an OR; meters='read' reads also the meters the rebuilt ones are
    built on, from where those are rebuilt; `also`: older rows matching a
    condition.
    `delete_rebuilt(...)`: the pre-hook that removes them first (all rows
    without a scope), so the model's select, appended, replaces exactly them.
    The scope is read when the model runs and written into its SQL as
    constants. Unit tests (no `this`) test the full build.
-#}

{#- The scope's id this run applies ('' when none); read only when dbt
    runs, never while it parses. -#}
{% macro rebuild_scope_id() -%}
    {{ return(env_var('REBUILD_SCOPE_ID', '') if execute else '') }}
{%- endmacro %}

{#- on-run-start: the local day and month starts (UTC instants as ISO text)
    of the scope's instants, by the models' own local time (time.sql);
    stops dbt when the id names no written scope. -#}
{% macro resolve_rebuild_scope() -%}
    {%- set scope_id = rebuild_scope_id() -%}
    {%- if not scope_id -%}
        {{ return('') }}
    {%- endif -%}
    {%- set window_table = source('rebuild', 'rebuild_window') -%}
    {%- set quoted = "'" ~ scope_id | replace("'", "''") ~ "'" -%}
    {%- set written = adapter.get_relation(
        database=window_table.database,
        schema=window_table.schema,
        identifier=window_table.identifier,
    ) is not none and run_query(
        'select count(*) from ' ~ window_table ~ ' where scope_id = ' ~ quoted
    ).rows[0][0] == 1 -%}
    {%- if not written -%}
        {{ exceptions.raise_compiler_error(
            'REBUILD_SCOPE_ID=' ~ scope_id ~ ' names no scope in '
            ~ window_table ~ ' (a scope applies only to the build that '
            ~ 'wrote it): unset it, or run `python -m pipeline run`'
        ) }}
    {%- endif -%}
    {%- call statement('resolve_rebuild_scope', auto_begin=True) -%}
        update {{ window_table }} set
            day_start_at = {{ day_start_text('window_from_at') }},
            month_start_at = {{ month_start_text('window_from_at') }},
            cost_day_start_at = {{ day_start_text('cost_from_at') }}
        where scope_id = {{ quoted }};
        update {{ source('rebuild', 'rebuild_meters') }} set
            day_start_at = {{ day_start_text('changed_from_at') }},
            month_start_at = {{ month_start_text('changed_from_at') }}
        where scope_id = {{ quoted }}
    {%- endcall -%}
    {#- Committed here: dbt rolls back a transaction the hooks leave open
        (one is open when dbt has just listed the relations of a schema it
        had not cached, e.g. under --no-populate-cache). -#}
    {%- do adapter.commit() -%}
    {{ return('') }}
{%- endmacro %}

{% macro day_start_text(instant_column) -%}
    {{ utc_text(local_midnight(local_date(instant_column))) }}
{%- endmacro %}

{% macro month_start_text(instant_column) -%}
    {{ utc_text(local_midnight(
        "date_trunc('month', " ~ local_date(instant_column) ~ ")"
    )) }}
{%- endmacro %}

{% macro utc_text(instant_expression) -%}
    strftime(
        timezone('UTC', {{ instant_expression }}), '%Y-%m-%dT%H:%M:%S+00:00'
    )
{%- endmacro %}

{#- The scope this run applies (none: every row), read from the warehouse
    once per dbt command: the first model or test that needs it keeps it in
    dbt's `graph` (one dict for the whole command; the scope's rows do not
    change while dbt runs), so the hundred others of an hourly build do not
    send the same two queries again. The source() calls put the scope
    tables into the lineage of every model and test that uses them. -#}
{% macro applied_scope() -%}
    {%- set window_table = source('rebuild', 'rebuild_window') -%}
    {%- set meters_table = source('rebuild', 'rebuild_meters') -%}
    {%- set scope_id = rebuild_scope_id() -%}
    {%- if not scope_id -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set read_scopes = graph.setdefault('utility_meters_rebuild_scopes', {}) -%}
    {%- if scope_id in read_scopes -%}
        {{ return(read_scopes[scope_id]) }}
    {%- endif -%}
    {%- set quoted = "'" ~ scope_id | replace("'", "''") ~ "'" -%}
    {%- set window = run_query(
        'select day_start_at, month_start_at, cost_day_start_at,'
        ~ ' tests_rebuilt_only from ' ~ window_table
        ~ ' where scope_id = ' ~ quoted
    ) -%}
    {%- set meters = run_query(
        'select meter_id, kind, day_start_at, month_start_at from '
        ~ meters_table ~ ' where scope_id = ' ~ quoted ~ ' order by meter_id'
    ) -%}
    {%- if window.rows | length != 1 or window.rows[0][0] is none -%}
        {{ exceptions.raise_compiler_error(
            'the rebuild scope ' ~ scope_id ~ ' has no local days: '
            ~ 'on-run-start (resolve_rebuild_scope) did not write them'
        ) }}
    {%- endif -%}
    {%- set scope = {
        'window': {
            'day_start_at': window.rows[0][0],
            'month_start_at': window.rows[0][1],
            'cost_day_start_at': window.rows[0][2],
        },
        'tests_rebuilt_only': window.rows[0][3],
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
    {%- do read_scopes.update({scope_id: scope}) -%}
    {{ return(scope) }}
{%- endmacro %}

{#- The scope an incremental model applies; none in a full build, in a
    unit test (no `this`) and without a scope id. -#}
{% macro incremental_scope() -%}
    {#- Lineage; a unit test (no `this`) is given its inputs and reads none. -#}
    {%- if this is not none -%}
        {%- do source('rebuild', 'rebuild_window') -%}
        {%- do source('rebuild', 'rebuild_meters') -%}
    {%- endif -%}
    {%- if execute and this is not none and is_incremental() -%}
        {{ return(applied_scope()) }}
    {%- endif -%}
    {{ return(none) }}
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
    tests' `tested_rows`); `scope`: the applied scope, none: every row. -#}
{% macro rebuilt_condition(
    meter_column,
    instant_column,
    window='day_start_at',
    lookback_days=0,
    scope=none
) -%}
    {%- if scope is none -%}
        {{ return('true') }}
    {%- endif -%}
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
    {{- rebuilt_condition(
        meter_column, instant_column, window, lookback_days, incremental_scope()
    ) -}}
{%- endmacro %}

{% macro rebuilt_rows(
    relation,
    instant_column,
    window='day_start_at',
    lookback_days=0,
    meters='rebuilt',
    also=none
) -%}
    {%- set scope = incremental_scope() -%}
    {%- if scope is not none -%}
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

{#- Separate deletes, each pruned by zone maps, rather than one with an OR;
    without a scope, every row. -#}
{% macro delete_rebuilt(meter_column, instant_column, window='day_start_at') -%}
    {%- set scope = incremental_scope() -%}
    {%- if scope is none and execute and this is not none
        and is_incremental() -%}
        delete from {{ this }};
    {%- elif scope is not none -%}
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
