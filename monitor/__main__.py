"""`python -m monitor` runs the same command-line entry point as the `monitor` script."""

import sys

from monitor.launch import main

sys.exit(main())
