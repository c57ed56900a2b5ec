"""Helpers for the Snakemake scripts in workflow/scripts/ (which stay a few lines each)."""

import os
import sys
import traceback
from contextlib import contextmanager


@contextmanager
def log_to(path: str):
    """Send this process's stdout and stderr (Python and C level) to the rule's log file."""
    sys.stdout.flush()
    sys.stderr.flush()
    with open(path, "a", buffering=1) as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc()  # into the log, where the rule's message points
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
