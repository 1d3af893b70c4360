"""Search spaces: builders that turn an architecture spec into a torch network."""
