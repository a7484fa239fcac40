"""The localkube node agent: a small kubelet that runs pods as host processes.

The control plane (etcd, kube-apiserver, controllers, scheduler) is real; only the
kubelet is replaced. The agent registers a Node, watches the pods bound to it and
runs each container's ``command`` + ``args`` through a supervisor shim
(:mod:`localkube.agent.shim`) that lives in a private mount namespace, so volume
mounts, ``/etc/...`` paths and ``/dev/termination-log`` work without touching the
host. Images are never pulled: a container must spell out its command.

Module map (gather -> decide -> act):

- ``config``: command-line flags and kubeconfig reading.
- ``api``: the only module that talks HTTP to the apiserver.
- ``envvars``, ``mountplan``, ``lifecycle``, ``podstatus``, ``backoff``,
  ``probestate``, ``ipam``, ``crilog``: pure decisions, unit-tested on their own.
- ``volumes``, ``runtime``, ``probes``, ``podworker``, ``node``, ``server``,
  ``agent``: the actors that apply those decisions.
- ``shim``, ``nsmount``: the per-container supervisor process.
"""
