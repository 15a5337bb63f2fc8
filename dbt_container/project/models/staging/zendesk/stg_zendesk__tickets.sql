-- One row per Zendesk ticket; requester email normalised for joining across sources.
with source as (
    {{ select_from_source('zendesk', 'tickets') }}
)

select
    id as ticket_id,
    lower(trim(requester_email)) as requester_email,
    status,
    case when status in ('new', 'open', 'pending', 'hold') then true else false end as is_open,
    priority,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    _fivetran_synced
from source
