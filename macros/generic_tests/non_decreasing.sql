{#- Fails with every row whose value is below the previous row's value of
    the same meter (ordered by `order_by`), beyond a float tolerance. -#}
{% test non_decreasing(model, column_name, order_by, meter_column='meter_id',
    where_clause='true') %}
    {{ return(adapter.dispatch('test_non_decreasing')(
        model, column_name, order_by, meter_column, where_clause)) }}
{% endtest %}

{% macro default__test_non_decreasing(
    model, column_name, order_by, meter_column, where_clause) %}
    with ordered as (
        select
            {{ meter_column }},
            {{ order_by }},
            {{ column_name }} as current_value,
            lag({{ column_name }}) over (
                partition by {{ meter_column }} order by {{ order_by }}
            ) as previous_value
        from {{ model }}
        where {{ where_clause }}
    )

    select * from ordered
    where current_value < previous_value - 1e-9 * greatest(abs(previous_value), 1)
{% endmacro %}
