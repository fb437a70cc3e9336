import sys

from aiconsole.cli import main

sys.exit(main())
