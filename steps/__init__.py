"""Step definitions, grouped by what they talk about; test_features.py binds the scenarios."""
