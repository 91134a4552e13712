"""Reference rows of the decoded and token-transfer tables."""
