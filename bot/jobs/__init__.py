"""Jobs: what a CLI command does, composed from core decisions and adapters. Heavy SDKs load inside them."""
