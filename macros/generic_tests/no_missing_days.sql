{#- Fails with every meter whose days from its first to its last are not
    all present exactly once. -#}
{% test no_missing_days(model, column_name, meter_column='meter_id') %}
    {{ return(adapter.dispatch('test_no_missing_days')(
        model, column_name, meter_column)) }}
{% endtest %}

{% macro default__test_no_missing_days(model, column_name, meter_column) %}
    select
        {{ meter_column }},
        min({{ column_name }}) as first_day,
        max({{ column_name }}) as last_day,
        count(distinct {{ column_name }}) as days_present,
        max({{ column_name }}) - min({{ column_name }}) + 1 as days_expected
    from {{ model }}
    group by {{ meter_column }}
    having
        count(distinct {{ column_name }})
        <> max({{ column_name }}) - min({{ column_name }}) + 1
{% endmacro %}
