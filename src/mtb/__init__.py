"""mtb: LLM-as-a-judge benchmarks from the command line."""

from mtb.version import __version__ as __version__
