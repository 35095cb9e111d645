"""Scoring the candidate and the champion on the same rows: the paired bootstrap (numpy) and the job step."""
