-- One row per HubSpot contact; email normalised for joining across sources.
with source as (
    {{ select_from_source('hubspot', 'contacts') }}
)

select
    id as contact_id,
    lower(trim(email)) as email,
    first_name,
    last_name,
    {{ dbt.concat(["first_name", "' '", "last_name"]) }} as full_name,
    lifecycle_stage,
    _fivetran_synced
from source
