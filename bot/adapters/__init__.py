"""One module per outside system. Heavy SDKs are imported inside functions, never at module import."""
