-- One row per day with revenue: succeeded Stripe charges and orders placed in the product.
with charges as (
    select
        cast(created_at as date) as date_day,
        count(*) as stripe_charges,
        sum(amount) as stripe_revenue
    from {{ ref('stg_stripe__charges') }}
    where is_succeeded
    group by cast(created_at as date)
),

orders as (
    select
        cast(ordered_at as date) as date_day,
        count(*) as app_orders,
        sum(order_total) as app_revenue
    from {{ ref('stg_app_db__orders') }}
    group by cast(ordered_at as date)
),

days as (
    select date_day from charges
    union
    select date_day from orders
)

select
    days.date_day,
    coalesce(charges.stripe_charges, 0) as stripe_charges,
    coalesce(charges.stripe_revenue, 0) as stripe_revenue,
    coalesce(orders.app_orders, 0) as app_orders,
    coalesce(orders.app_revenue, 0) as app_revenue,
    coalesce(charges.stripe_revenue, 0) + coalesce(orders.app_revenue, 0) as total_revenue
from days
left join charges on days.date_day = charges.date_day
left join orders on days.date_day = orders.date_day
