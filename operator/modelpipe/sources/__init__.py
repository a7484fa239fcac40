"""Followed sources at the edge: git refs, HTTP datasets and manifests polled to versions.

The I/O half of following a source; its vocabulary lives in :mod:`modelpipe.api.sources`
and its pure policy (polling, debouncing, status rows) in :mod:`modelpipe.planning`.
A ``pvc://`` dataset is checked by a Job instead (:mod:`modelpipe.planning.pvcdata`).

Importing the package loads nothing: import the module you need.
"""
