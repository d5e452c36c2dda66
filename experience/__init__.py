"""Experience events: the typed audit events of agent decision chains (seed 001, converge-core)."""
