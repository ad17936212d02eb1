"""The ``bench`` subcommands, one module per group; :mod:`bench.cli` assembles them."""
