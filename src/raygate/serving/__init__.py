"""Ray Serve: a router ingress with champion and canary model deployments."""
