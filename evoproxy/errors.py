"""The one exception type the CLI turns into a single line and exit code 2."""


class EvoproxyError(Exception):
    """A user-facing error: the message says what is wrong and what to do."""


class DataMissing(EvoproxyError):
    """A data file the command needs is not in the data directory."""
