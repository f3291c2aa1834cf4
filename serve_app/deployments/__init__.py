"""Serve deployments: one class for every category, and the gateway."""
