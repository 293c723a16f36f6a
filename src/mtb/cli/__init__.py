"""The `mtb` command line: one thin module per subcommand over the core in `mtb`."""
