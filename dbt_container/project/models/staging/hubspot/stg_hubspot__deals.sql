-- One row per HubSpot deal.
with source as (
    {{ select_from_source('hubspot', 'deals') }}
)

select
    id as deal_id,
    contact_id,
    cast(amount as numeric(18, 2)) as amount,
    stage,
    case when stage = 'closedwon' then true else false end as is_won,
    close_date,
    _fivetran_synced
from source
