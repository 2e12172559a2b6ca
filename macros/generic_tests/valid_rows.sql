{#-
    One data test per model for the rules of its rows, in one pass over
    them (a test per column and rule made a dbt node, and a scan, each).
    Fails with every row that breaks a rule: its key columns and a
    `problem` naming the rule (the first it breaks).
    - key: columns whose combination occurs once (among the rows where
      `key_where` holds, when given);
    - not_null: columns never null; an entry {column: condition} is
      required only where the condition holds;
    - accepted_values: {column: [values]}: a value outside them (null
      passes);
    - series: {partition_by, order_by, non_decreasing, every_day}: within
      each partition ordered by `order_by`, the `non_decreasing` column
      never falls below the row before (beyond a float tolerance), and with
      every_day the `order_by` dates follow each other day by day. A key of
      partition_by and order_by is checked in the same pass (a row whose
      order_by equals the one before).
-#}
{% test valid_rows(
    model, key=[], key_where=none, not_null=[], accepted_values={},
    series=none
) %}
    {{ return(adapter.dispatch('test_valid_rows')(
        model, key, key_where, not_null, accepted_values, series)) }}
{% endtest %}

{% macro default__test_valid_rows(
    model, key, key_where, not_null, accepted_values, series
) %}
    {%- set checks = [] -%}
    {%- for entry in not_null -%}
        {%- if entry is mapping -%}
            {%- for column, condition in entry.items() -%}
                {%- do checks.append((
                    '(' ~ condition ~ ') and ' ~ column ~ ' is null',
                    "'" ~ column ~ " is null'"
                )) -%}
            {%- endfor -%}
        {%- else -%}
            {%- do checks.append((
                entry ~ ' is null', "'" ~ entry ~ " is null'"
            )) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column, values in accepted_values.items() -%}
        {%- set quoted = [] -%}
        {%- for value in values -%}
            {%- do quoted.append("'" ~ value ~ "'") -%}
        {%- endfor -%}
        {%- do checks.append((
            column ~ ' not in (' ~ quoted | join(', ') ~ ')',
            "'" ~ column ~ " ' || cast(" ~ column
                ~ " as varchar) || ' is not one of " ~ values | join(', ')
                ~ "'"
        )) -%}
    {%- endfor -%}
    {%- set columns = key | list -%}
    {%- set key_in_series = false -%}
    {%- if series is not none -%}
        {%- set window -%}
            over (partition by {{ series.partition_by }}
                  order by {{ series.order_by }})
        {%- endset -%}
        {%- set order = series.order_by -%}
        {%- set previous = 'lag(' ~ order ~ ') ' ~ window -%}
        {%- set key_in_series = key | list == [series.partition_by, order]
            and key_where is none -%}
        {%- if key_in_series -%}
            {%- do checks.append((
                order ~ ' = ' ~ previous,
                "'more than one row with this " ~ key | join(', ') ~ "'"
            )) -%}
        {%- endif -%}
        {%- if series.get('every_day') -%}
            {%- do checks.append((
                order ~ ' > ' ~ previous ~ ' + 1',
                "'days missing after ' || cast(" ~ previous ~ ' as varchar)'
            )) -%}
        {%- endif -%}
        {%- if series.get('non_decreasing') -%}
            {%- set value = series.non_decreasing -%}
            {%- set before = 'lag(' ~ value ~ ') ' ~ window -%}
            {%- do checks.append((
                value ~ ' < ' ~ before ~ ' - 1e-9 * greatest(abs('
                    ~ before ~ '), 1)',
                "'" ~ value ~ " falls from ' || cast(" ~ before
                    ~ " as varchar) || ' to ' || cast(" ~ value
                    ~ ' as varchar)'
            )) -%}
        {%- endif -%}
        {%- for column in [series.partition_by, order] -%}
            {%- if column not in columns -%}
                {%- do columns.append(column) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if key and not key_in_series -%}
        {%- set counted = 'count(*) filter (where ' ~ key_where ~ ')'
            if key_where else 'count(*)' -%}
        {%- do checks.append((
            ('(' ~ key_where ~ ') and ' if key_where else '')
                ~ counted ~ ' over (partition by '
                ~ key | join(', ') ~ ') > 1',
            "'more than one row with this " ~ key | join(', ') ~ "'"
        )) -%}
    {%- endif -%}
    with checked as (
        select
            {% for column in columns -%}
                {{ column }},
            {% endfor -%}
            case
                {% for condition, problem in checks -%}
                    when {{ condition }} then {{ problem }}
                {% endfor -%}
            end as problem
        from {{ model }}
    )

    select * from checked
    where problem is not null
{% endmacro %}
