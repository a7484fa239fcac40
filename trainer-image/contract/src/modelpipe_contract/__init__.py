"""What the operator and the trainer agree on, and nothing else: pydantic models only.

- :mod:`modelpipe_contract.runconfig`: the run config the operator writes for a training Job;
- :mod:`modelpipe_contract.result`: the versioned result document the trainer writes back.

Its own distribution (``modelpipe-contract``), so the operator image installs pydantic
for it and not the trainer's scikit-learn, pandas and pyarrow.
"""
