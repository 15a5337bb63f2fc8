-- One row per Salesforce account.
with source as (
    {{ select_from_source('salesforce', 'account') }}
)

select
    cast(id as {{ dbt.type_string() }}) as account_id,
    name as account_name,
    industry,
    _fivetran_synced
from source
