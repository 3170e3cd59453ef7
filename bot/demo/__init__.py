"""`mlresponder demo`: an incident from deploy to postmortem, in-process on embedded defaults.

A real scikit-learn model is trained and registered in a local MLflow registry, a small
serving loop writes a live prediction log, a fault is injected, the alert goes through the
real HTTP intake, and the runbook engine diagnoses, mitigates and verifies.
"""
