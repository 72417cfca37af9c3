"""The account's email logging rules: Settings > Email > Logging, and what sync reads of them."""
