"""The embedded runtime: the whole pipeline on one machine, no AWS or Fivetran account.

Never shipped to Lambda.
"""
