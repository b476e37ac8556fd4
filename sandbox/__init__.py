"""Stand-in for the social networks Herald talks to: one app, in-memory state."""
