"""collector: download history of Hugging Face model families, in DuckDB.

The Python API (see collector.api): `daily`, `members`, `top` and `compare` return
pandas DataFrames, `verify` a dict: the same figures as the CLI, read-only on the
warehouse. They are loaded on first use, so that `import collector` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "compare", "daily", "members", "top", "verify"]
_API = ("compare", "daily", "members", "top", "verify")


def __getattr__(name: str) -> Any:
    if name in _API:
        from collector import api

        return getattr(api, name)
    raise AttributeError(f"module 'collector' has no attribute {name!r}")
