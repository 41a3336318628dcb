"""Load tests before promotion: workload, arrival, transport and metrics, run on Ray actors."""
