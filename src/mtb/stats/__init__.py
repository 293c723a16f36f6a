"""Statistics any protocol can use: Bradley–Terry fits and bootstrap intervals."""
