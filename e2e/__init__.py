"""Helpers of the end-to-end deployment check (scripts/e2e.sh): REST checks and screenshots."""
