"""inferwatch.dashboard (see its issue); imported lazily by the CLI."""
