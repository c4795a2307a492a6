"""Theorems (temporary)."""
