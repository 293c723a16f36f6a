"""mtb: LLM-as-a-judge benchmarks from the command line."""

__version__ = "0.1.0"
