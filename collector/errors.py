"""Errors that the CLI turns into one clear line and an exit code."""


class CollectorError(Exception):
    """A failure the user can act on; printed as one line, never as a traceback."""

    exit_code = 1


class UsageError(CollectorError):
    """Bad input from the user: an option, a config file, a claim. Exit code 2."""

    exit_code = 2


class HubUnreachable(CollectorError):
    """The Hub endpoint could not be reached at all."""


class WarehouseError(UsageError):
    """The warehouse cannot be opened or is not one of ours (a usage error: wrong --db)."""


class WarehouseBusy(CollectorError):
    """Another process holds the warehouse's write lock for longer than we wait."""


class StorageFailure(CollectorError):
    """The disk under the warehouse or its stage failed (full, size limit, read-only ...)."""
