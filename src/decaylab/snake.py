"""Helpers for the Snakemake scripts in workflow/scripts/ (which stay a few lines each) and the Snakefile's
error handler: a failed job prints one line naming the cause and the fix; its traceback stays in its log."""

import fcntl
import os
import re
import shlex
import sys
import time
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
    """Send this process's stdout and stderr (Python and C level) to the rule's log file; yields the terminal (a
    text stream on the former stderr) for the job's few progress lines.

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
            with os.fdopen(os.dup(saved[1]), "w", buffering=1) as terminal:
                yield terminal
        except Exception as exc:
            traceback.print_exc()
            failure = summary_line(exc)
            print(failure, flush=True)
            _note_failure(failure)
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


FAILURES_ENV = "DECAYLAB_FAILURES"  # the study's file of its failed jobs' summary lines (set by the Snakefile)


def failures_file(key: str) -> Path:
    return Path(".snakemake") / "decaylab" / f"{key.replace('/', '__')}.failures"


def _note_failure(line: str) -> None:
    """Append a failed job's summary line to the study's failures file, where the Snakefile's onerror reads it
    (Snakemake's own error block, which names the job's log, is hidden by `quiet: rules`)."""
    if path := os.environ.get(FAILURES_ENV):
        try:
            with open(path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass  # the line is in the job's log and on the terminal already


def failure_summary(snakemake_logs: list[str], failures: Path | None = None) -> list[str]:
    """The summary line of each failed job, for the end of the terminal output: those its jobs noted in `failures`
    and those of the jobs Snakemake's own log(s) name."""
    lines = [] if failures is None or not failures.is_file() else list(dict.fromkeys(
        ln for ln in failures.read_text(errors="replace").splitlines() if ln.startswith(MARK)))
    for main_log in snakemake_logs:
        text = Path(main_log).read_text(errors="replace") if Path(main_log).is_file() else ""
        for job_log in re.findall(r"^\s*log: (\S+) \(check log file", text, flags=re.M):
            found = [ln for ln in Path(job_log).read_text(errors="replace").splitlines() if ln.startswith(MARK)] \
                if Path(job_log).is_file() else []
            line = found[-1] if found else f"{MARK}a job failed; see {job_log}"
            if line not in lines:
                lines.append(line)
    return lines


ONE_TIME_OPTIONS = {"--forcerun", "-R", "--forceall", "-F", "--unlock", "--dry-run", "--dryrun", "-n", "--touch", "-t",
                    "--until", "-U", "--omit-from", "-O"}  # what a pasted fix must not repeat (with their values)


def invocation(argv: list[str], cwd: Path | None = None) -> str:
    """The user's snakemake command (config files, --config items and the other options as given), for the fixes
    decaylab prints: pasted, they run the same study. Options that acted once (forcing, unlocking, dry runs) are
    left out; the program is named as the user can type it from the project."""
    cwd = cwd or Path.cwd()
    program = Path(argv[0])
    if program.name == "__main__.py":  # python -m snakemake
        program, module = Path(sys.executable), ["-m", "snakemake"]
    else:
        module = []
    if program.is_absolute() and program.is_relative_to(cwd):
        program = program.relative_to(cwd)
    words, skipping = [str(program), *module], False
    for word in argv[1:]:
        option = word.split("=", 1)[0]
        if word.startswith("-"):
            skipping = option in ONE_TIME_OPTIONS
        if not skipping:
            words.append(word)
    return shlex.join(words)


def unpublished_notice(cause_file: Path, rerun: str) -> str | None:
    """The closing line when the report step could not publish the study's page to MLflow."""
    if not cause_file.exists():
        return None
    return (f"{MARK}report written, not published to MLflow ({cause_file.read_text().strip()}); publish it once the "
            f"store is back: {rerun} --forcerun report")


class StudyRunningError(ExpectedError):
    """The study is already being run by another invocation in this folder."""


_held_locks = []  # open for the life of the snakemake process: the kernel releases them when it ends, kill -9 too


def _study_lock_file(key: str) -> Path:
    path = Path(".snakemake") / "decaylab" / f"{key.replace('/', '__')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def hold_study_lock(key: str) -> None:
    """decaylab's own lock on a running study (onstart): a second invocation of the same study in this folder is
    refused while the first lives, also after `snakemake --unlock` removed Snakemake's own locks."""
    lock = open(_study_lock_file(key), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another snakemake process"
        lock.close()
        raise StudyRunningError(f"study {key} is already running in this folder ({holder}); wait for it to end, "
                                "or stop that process, then run your command again") from None
    lock.truncate(0)
    lock.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    lock.flush()
    _held_locks.append(lock)


def release_stale_snakemake_lock(key: str) -> list[Path]:
    """Remove the lock that a killed invocation of this study left, so that a plain rerun recovers (Snakemake keeps
    it by design: the next run would stop at a LockException). Only while no process holds the study's decaylab
    lock, and only Snakemake's lock files that name files of this study (its results, report and logs, and the data
    it reads) and nothing else: a live run of another study keeps its own. Returns the files removed."""
    with open(_study_lock_file(key), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        own = tuple(f"{root}/{key}/" for root in ("results", "reports", "logs"))
        removed = []
        for output in sorted(Path(".snakemake/locks").glob("*.output.lock")):
            pair = [output, output.with_name(output.name.replace(".output.", ".input."))]
            named = [line for path in pair if path.exists() for line in path.read_text().split()]
            if any(name.startswith(own) for name in named) and all(
                    name.startswith((*own, "results/data/")) for name in named):
                for path in pair:
                    path.unlink(missing_ok=True)
                removed += pair
        fcntl.flock(lock, fcntl.LOCK_UN)
    return removed
