-- One row per order placed in the product.
with source as (
    {{ select_from_source('app_db', 'orders') }}
)

select
    id as order_id,
    user_id,
    cast(total as numeric(18, 2)) as order_total,
    cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
    _fivetran_synced
from source
