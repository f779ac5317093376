"""Values shared by every layer: labels, matchers, entries, time, errors. Imports nothing else."""
