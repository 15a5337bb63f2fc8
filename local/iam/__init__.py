"""IAM as deployed, enforced in the local runtime (see enforce.py)."""
