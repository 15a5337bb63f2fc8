-- One row per Stripe customer; email normalised for joining across sources.
with source as (
    {{ select_from_source('stripe', 'customers') }}
)

select
    cast(id as {{ dbt.type_string() }}) as customer_id,
    lower(trim(email)) as email,
    name as customer_name,
    cast(created as {{ dbt.type_timestamp() }}) as created_at,
    _fivetran_synced
from source
