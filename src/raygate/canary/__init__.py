"""The canary judge and rollout logic: anytime-valid verdicts on live per-variant traffic."""
