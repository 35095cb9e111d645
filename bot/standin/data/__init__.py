"""GitHub description subsets the stand-in validates against (from scripts/extract_github_specs.py)."""
