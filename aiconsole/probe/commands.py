"""Finding a vendor's command-line tool (nvidia-smi, hl-smi, nvme) and running it with a time
limit."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

COMMAND_TIMEOUT_S = 10.0


def run_command(argv: List[str], timeout_s: float = COMMAND_TIMEOUT_S) -> Tuple[int, str]:
    """(exit status, stdout and stderr as text); -1 and the reason when it could not run or
    did not finish in time. Never raises."""
    import subprocess  # only hosts with such a tool pay for the import

    try:
        done = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, "%s did not answer within %g s" % (argv[0], timeout_s)
    except OSError as error:
        return -1, "cannot run %s: %s" % (argv[0], error.strerror or error)
    return done.returncode, done.stdout.decode("utf-8", "replace")


def find_program(name: str) -> Optional[str]:
    """Where ``name`` is on $PATH (shutil.which without shutil's import cost).

    Only absolute entries count: an empty or relative one means the working directory, where
    whoever controls it could leave an ``nvidia-smi`` for the probe to run.
    """
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not directory.startswith("/"):
            continue
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
