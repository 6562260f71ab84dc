"""The input pipeline's error type."""


class DataError(ValueError):
    """A data source, mask specification or mask file that is missing, empty or unreadable."""
