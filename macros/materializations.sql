{#-
    The project's own table, view and incremental materializations on
    DuckDB: what dbt-duckdb's do for this project, with far less work in
    dbt. dbt-duckdb builds a table under a temporary name, renames the old
    one away, renames the new one into place and drops the old, checking
    for foreign keys, indexes, grants and DuckLake on the way; an
    incremental run first writes its rows into a temporary table, compares
    its columns with the target's and then inserts them, so every rebuilt
    row is written twice (9 or 10 statements per model, against 6 to 8
    here, BEGIN and COMMIT included). On the house, where the SQL itself
    takes milliseconds, an hourly build's dbt stage took a median 7.4 s
    with dbt-duckdb's and 6.2 s with these (six runs each, the rebuild
    scope also read once per command, rebuild.sql).

    Here a model is one transaction (DuckDB's DDL is transactional: a
    failing model leaves the previous relation as it was):
    - table, view, and an incremental model's full build: drop the old
      relation, create the new one with dbt's own create_table_as /
      create_view_as (so the marts' enforced contracts still apply);
    - incremental, otherwise: its pre-hook deletes the rows this build
      rebuilds (delete_rebuilt, rebuild.sql), then the model's rows are
      inserted by column name. A model whose columns changed is never
      built this way: changed code makes the next build a full one
      (pipeline/rebuild.py).
    The project has no foreign keys, indexes, grants or Python models.
-#}

{% materialization table, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ return(build_relation(target_relation, create_table_as(
        False, target_relation, compiled_code
    ), replace=true)) }}
{% endmaterialization %}

{% materialization view, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {{ return(build_relation(target_relation, create_view_as(
        target_relation, compiled_code
    ), replace=true)) }}
{% endmaterialization %}

{% materialization incremental, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- if is_incremental() -%}
        {%- set insert_sql -%}
            insert into {{ target_relation }} by name (
                {{ compiled_code }}
            )
        {%- endset -%}
        {{ return(build_relation(target_relation, insert_sql, replace=false)) }}
    {%- endif -%}
    {{ return(build_relation(target_relation, create_table_as(
        False, target_relation, compiled_code
    ), replace=true)) }}
{% endmaterialization %}

{#- The model's hooks and `main_sql` in one transaction; `replace`: the
    model's old relation is dropped first. -#}
{% macro build_relation(target_relation, main_sql, replace) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- set existing = load_cached_relation(this) if replace else none -%}
    {%- if existing is not none -%}
        {%- call statement('drop_existing', auto_begin=True) -%}
            drop {{ existing.type }} if exists {{ existing }}
        {%- endcall -%}
    {%- endif -%}
    {%- call statement('main') -%}
        {{ main_sql }}
    {%- endcall -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}
