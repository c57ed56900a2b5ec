"""Helpers for the Snakemake scripts in workflow/scripts/ (which stay a few lines each) and the Snakefile's
error handler: a failed job prints one line naming the cause and the fix; its traceback stays in its log."""

import os
import re
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from decaylab.errors import ExpectedError

MARK = "decaylab: "  # the one-line summary of a failure, also the last line of the rule's log


def summary_line(exc: BaseException) -> str:
    if isinstance(exc, ExpectedError):
        return f"{MARK}{exc}"
    return f"{MARK}unexpected {type(exc).__name__}: {exc} (a bug: please report it with the log)"


@contextmanager
def log_to(path: str):
    """Send this process's stdout and stderr (Python and C level) to the rule's log file.

    An exception ends the job with exit status 1: its traceback goes to the log, one summary line to the log
    and to the terminal. Interrupts (SIGTERM, Ctrl-C) pass through unchanged.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    failure = None
    with open(path, "a", buffering=1) as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except Exception as exc:
            traceback.print_exc()
            failure = summary_line(exc)
            print(failure, flush=True)
        except BaseException:
            traceback.print_exc()  # into the log, where the rule's message points
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    if failure:
        print(f"{failure}\n  (traceback: {path})", file=sys.stderr, flush=True)
        raise SystemExit(1)


def failure_summary(snakemake_logs: list[str]) -> list[str]:
    """The summary line of each failed job named in Snakemake's own log(s), for the end of the terminal output."""
    lines = []
    for main_log in snakemake_logs:
        text = Path(main_log).read_text(errors="replace") if Path(main_log).is_file() else ""
        for job_log in re.findall(r"^\s*log: (\S+) \(check log file", text, flags=re.M):
            found = [ln for ln in Path(job_log).read_text(errors="replace").splitlines() if ln.startswith(MARK)] \
                if Path(job_log).is_file() else []
            line = found[-1] if found else f"{MARK}a job failed; see {job_log}"
            if line not in lines:
                lines.append(line)
    return lines
