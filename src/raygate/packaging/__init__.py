"""The agent as an MLflow pyfunc: signature, artifacts, logging, and loading by alias."""
