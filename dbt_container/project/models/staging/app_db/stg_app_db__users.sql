-- One row per user of the product; email normalised for joining across sources.
with source as (
    {{ select_from_source('app_db', 'users') }}
)

select
    id as user_id,
    lower(trim(email)) as email,
    cast(signed_up_at as {{ dbt.type_timestamp() }}) as signed_up_at,
    _fivetran_synced
from source
