"""The image builder of the tests is devtools/oci.py (the benchmarks and ``make demo`` use it too)."""

from devtools.oci import *  # noqa: F403
