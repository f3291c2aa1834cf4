"""Workflows: specs, validation and compilation to Ray DAGs. Imports `agents`, never `serve_app`."""
