-- One row per Salesforce opportunity.
with source as (
    {{ select_from_source('salesforce', 'opportunity') }}
)

select
    cast(id as {{ dbt.type_string() }}) as opportunity_id,
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(amount as numeric(18, 2)) as amount,
    stage_name,
    is_won,
    close_date,
    _fivetran_synced
from source
