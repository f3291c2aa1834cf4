"""The Serve application: deployments, gateway routes, settings and the `agentctl` CLI."""
