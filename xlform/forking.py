"""Where a worker process may be forked: on Linux only. A fork starts at once with everything this process
has loaded; elsewhere fork is unsafe (macOS) or missing (Windows), and a worker is a fresh interpreter,
which costs a fraction of a second to start. Reading (collect) and writing (ooxml.rows) both ask here."""

from __future__ import annotations

import sys

FORK = sys.platform.startswith("linux")
