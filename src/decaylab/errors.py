"""The base of decaylab's expected failures: bad config, missing data, an unusable store or disk.

Its message names the cause and the fix, so a job that fails with one prints that one line; anything else is
a bug, shown with its traceback (in the rule's log file under Snakemake).
"""


class ExpectedError(Exception):
    """A failure the user can fix; str(error) says what happened and what to do."""
