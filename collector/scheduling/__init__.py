"""Scheduled collection: schedule files, the daemon, its process lock and schedule status."""
