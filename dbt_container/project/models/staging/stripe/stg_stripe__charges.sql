-- One row per Stripe charge; amount converted from cents to currency units (exact decimals).
with source as (
    {{ select_from_source('stripe', 'charges') }}
)

select
    cast(id as {{ dbt.type_string() }}) as charge_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    amount as amount_cents,
    cast(amount / 100.0 as numeric(18, 2)) as amount,
    lower(currency) as currency,
    status,
    case when status = 'succeeded' then true else false end as is_succeeded,
    cast(created as {{ dbt.type_timestamp() }}) as created_at,
    _fivetran_synced
from source
