"""Pulumi components of icc-ollama. Importing a module here creates no resource."""
