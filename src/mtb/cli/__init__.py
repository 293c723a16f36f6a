"""The `mtb` command line: one thin module per subcommand over the core in `mtb`."""


def main() -> None:
    """The `mtb` console script: the app is imported as long-lived objects (`mtb.startup`), then run."""
    from mtb.startup import long_lived_imports

    readable_on_any_terminal()
    with long_lived_imports():
        from mtb.cli.main import app
    app()


def readable_on_any_terminal() -> None:
    """Let stdout and stderr print any character, whatever encoding they have.

    Under LANG=C, PYTHONIOENCODING=ascii or a Latin-1 terminal, a model name, answer
    or file name outside that encoding would end the command in a UnicodeEncodeError
    traceback; printed as a backslash escape (`\\xe8`) it stays readable and exact.
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
