{#- Fails with every row whose `column_name` is not a value of `field` in
    `to` (like `relationships`, but names the offending row with a
    `problem` column). -#}
{% test references_existing(model, column_name, to, field, what='value') %}
    {{ return(adapter.dispatch('test_references_existing')(
        model, column_name, to, field, what)) }}
{% endtest %}

{% macro default__test_references_existing(model, column_name, to, field, what) %}
    select
        child.*,
        '{{ what }} ' || child.{{ column_name }} || ' does not exist'
            as problem
    from {{ model }} as child
    left join {{ to }} as parent
        on child.{{ column_name }} = parent.{{ field }}
    where
        child.{{ column_name }} is not null
        and parent.{{ field }} is null
{% endmacro %}
