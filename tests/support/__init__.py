"""Helpers for tests that run real workers against real brokers."""
