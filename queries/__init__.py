"""inferwatch.queries (see its issue); imported lazily by the CLI."""
