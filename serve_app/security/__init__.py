"""Credentials, tokens, API keys, and the guard that checks them with the policy on every call."""
