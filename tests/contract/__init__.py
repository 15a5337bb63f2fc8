"""The same cases run against a test double and the real thing it stands in for."""
