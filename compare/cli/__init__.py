"""The ``twinprop`` command: ``app`` dispatches to one module per subcommand."""
