{#
  select_from_source(source_name, table_name)

  `select * from <the source table>`. When the table does not exist (the connection has never synced)
  and DBT_TOLERATE_MISSING_SOURCES is true (the default), an empty select with the columns and types the
  source declares instead, and a log line: the project then builds from whichever connections have landed.
  Calling source() in every case keeps the lineage, so `--exclude source:<name>+` still works.
#}
{% macro select_from_source(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and tolerate_missing_sources() -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        ) -%}
        {%- if existing is none -%}
            {{ log("source " ~ source_name ~ "." ~ table_name ~ " does not exist yet: "
                   ~ model.name ~ " selects no rows", info=true) }}
            {{ return(empty_source_select(source_name, table_name)) }}
        {%- endif -%}
    {%- endif -%}
    {{ return("select * from " ~ relation) }}
{% endmacro %}


{% macro tolerate_missing_sources() %}
    {{ return(env_var('DBT_TOLERATE_MISSING_SOURCES', 'true') | lower in ['true', '1', 'yes']) }}
{% endmacro %}


{% macro empty_source_select(source_name, table_name) %}
    {%- set columns = [] -%}
    {%- for node in graph.sources.values()
            if node.source_name == source_name and node.name == table_name -%}
        {%- for column in node.columns.values() -%}
            {%- do columns.append("cast(null as " ~ column.data_type ~ ") as " ~ column.name) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " declares no columns to build an empty select from") }}
    {%- endif -%}
    {{ return("select * from (select " ~ columns | join(", ") ~ ") as empty_source where 1 = 0") }}
{% endmacro %}
