"""ai's periodic work, handed to ServiceApp(jobs=...) as kit PeriodicJobs (none yet)."""
