"""Config Service's Python client: reads with a last-known-good copy, live changes, a
pydantic-settings source and the `config-service` command."""
