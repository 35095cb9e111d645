"""Pure decisions: no network, no SDKs, no FastAPI. Everything here is a function from facts to a value."""
