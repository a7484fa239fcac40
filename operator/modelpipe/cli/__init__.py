"""``kubectl modelpipe``: a kubectl plugin to read and steer ModelPipelines.

    argv ─▶ main (parse, exit codes) ─▶ cluster (the API, with the user's kubeconfig)
                                    ─▶ views (pure: objects in, rows out) ─▶ output

It imports neither kopf nor the operator's runtime, so it starts fast on a laptop.
"""
