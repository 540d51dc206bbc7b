"""tap-stripe: customers, charges, invoices, subscriptions, products, prices, payment intents and events."""
