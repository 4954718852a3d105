"""Showing results: the one render path, charts and progress on stderr."""
