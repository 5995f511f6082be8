"""inferwatch.collector (see its issue); imported lazily by the CLI."""
