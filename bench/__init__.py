"""Benchmarks against the fake Bot API and fake YandexART servers (see docs/PERFORMANCE.md)."""
