"""``python -m aiconsole.probe``: the probe as a program on this machine."""

import sys

from aiconsole.probe.main import main

sys.exit(main())
