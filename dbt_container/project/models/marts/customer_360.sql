-- One row per person (by email) known to billing (Stripe), the CRM (HubSpot), the product (app_db)
-- or support (Zendesk), with what each of them says about that person.
with stripe_customers as (
    select
        email,
        min(customer_id) as stripe_customer_id,
        min(customer_name) as customer_name
    from {{ ref('stg_stripe__customers') }}
    where email is not null
    group by email
),

stripe_charges as (
    select
        customers.email,
        count(*) as succeeded_charges,
        sum(charges.amount) as lifetime_charges_amount
    from {{ ref('stg_stripe__charges') }} as charges
    inner join {{ ref('stg_stripe__customers') }} as customers
        on charges.customer_id = customers.customer_id
    where charges.is_succeeded
    group by customers.email
),

hubspot_contacts as (
    select
        email,
        min(contact_id) as hubspot_contact_id,
        min(full_name) as full_name,
        min(lifecycle_stage) as lifecycle_stage
    from {{ ref('stg_hubspot__contacts') }}
    where email is not null
    group by email
),

app_users as (
    select
        email,
        min(user_id) as app_user_id,
        min(signed_up_at) as signed_up_at
    from {{ ref('stg_app_db__users') }}
    where email is not null
    group by email
),

app_orders as (
    select
        users.email,
        count(*) as orders,
        sum(orders.order_total) as lifetime_orders_amount
    from {{ ref('stg_app_db__orders') }} as orders
    inner join {{ ref('stg_app_db__users') }} as users
        on orders.user_id = users.user_id
    group by users.email
),

zendesk_tickets as (
    select
        requester_email as email,
        count(*) as tickets,
        sum(case when is_open then 1 else 0 end) as open_tickets
    from {{ ref('stg_zendesk__tickets') }}
    where requester_email is not null
    group by requester_email
),

people as (
    select email from stripe_customers
    union
    select email from hubspot_contacts
    union
    select email from app_users
    union
    select email from zendesk_tickets
)

select
    people.email,
    stripe_customers.stripe_customer_id,
    hubspot_contacts.hubspot_contact_id,
    app_users.app_user_id,
    coalesce(stripe_customers.customer_name, hubspot_contacts.full_name) as customer_name,
    hubspot_contacts.lifecycle_stage,
    app_users.signed_up_at,
    coalesce(stripe_charges.succeeded_charges, 0) as succeeded_charges,
    coalesce(stripe_charges.lifetime_charges_amount, 0) as lifetime_charges_amount,
    coalesce(app_orders.orders, 0) as orders,
    coalesce(app_orders.lifetime_orders_amount, 0) as lifetime_orders_amount,
    coalesce(zendesk_tickets.tickets, 0) as tickets,
    coalesce(zendesk_tickets.open_tickets, 0) as open_tickets
from people
left join stripe_customers on people.email = stripe_customers.email
left join stripe_charges on people.email = stripe_charges.email
left join hubspot_contacts on people.email = hubspot_contacts.email
left join app_users on people.email = app_users.email
left join app_orders on people.email = app_orders.email
left join zendesk_tickets on people.email = zendesk_tickets.email
