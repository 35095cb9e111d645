"""The stand-in's domain: its state and one part per GitHub resource, composed by `StandIn`."""
