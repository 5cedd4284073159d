"""The domain. One module per domain; each owns its transactions and never sees a Request."""
