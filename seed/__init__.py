"""Reference data files and the deterministic demo-data generator."""
