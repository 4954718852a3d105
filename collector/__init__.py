"""collector: download history of Hugging Face model families, in DuckDB."""

__version__ = "0.1.0"
