"""Client webhooks: subscriptions, the public event catalogue, signed delivery with retries,
and forgetting old deliveries."""
