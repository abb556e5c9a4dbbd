"""Numbers: search, subscriptions, the 24-hour trial guard and the Xoxzo client."""
