"""The `mtb` command line: one thin module per subcommand over the core in `mtb`."""


def main() -> None:
    """The `mtb` console script: the app is imported as long-lived objects (`mtb.startup`), then run."""
    from mtb.startup import long_lived_imports

    with long_lived_imports():
        from mtb.cli.main import app
    app()
