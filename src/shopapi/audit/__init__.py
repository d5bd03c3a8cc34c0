"""The security log: each account's events, recorded in the transaction of the change."""
