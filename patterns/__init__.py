"""chanpy_patterns: bot management built only from chanpy's public API (to come)."""
