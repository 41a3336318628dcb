"""The `raygate` command line: one module per command group."""
