"""The exception type the CLI turns into a single line and exit code 2, and the warning category it
prints as one ``note:`` line."""


class EvoproxyError(Exception):
    """A user-facing error: the message says what is wrong and what to do."""


class DataMissing(EvoproxyError):
    """A data file the command needs is not in the data directory."""


class EvoproxyNote(UserWarning):
    """Something the user should know that changes nothing they asked for (the library warns; the
    CLI prints ``note: <message>``)."""
