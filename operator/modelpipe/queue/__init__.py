"""The training queue: at most N training Jobs at once, in the cluster and per namespace.

``order`` is the pure decision (who starts, who waits and where), ``ledger`` the
operator's in-memory record it decides over (running Jobs and waiting pipelines), fed
by each reconcile pass.
"""
