"""The only layer that talks to the Kubernetes API: gather, execute, reconcile."""
