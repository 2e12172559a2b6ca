{#-
    The counter of a reading segment (int_reading_segments) after
    `weight_since_anchor` units of weight: anchor_value + slope x weight,
    never below zero before the first reading, rounded to 1e-9.
-#}
{% macro segment_counter(weight_since_anchor) -%}
    {{ return(adapter.dispatch('segment_counter')(weight_since_anchor)) }}
{%- endmacro %}

{% macro default__segment_counter(weight_since_anchor) -%}
    case
        when segment_kind = 'before_first'
            then greatest(
                round(anchor_value + slope * {{ weight_since_anchor }}, 9), 0
            )
        else round(anchor_value + slope * {{ weight_since_anchor }}, 9)
    end
{%- endmacro %}
