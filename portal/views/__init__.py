"""Pages of the shared plumbing: home, jobs, health."""
