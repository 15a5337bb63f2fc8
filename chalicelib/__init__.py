"""Code shipped to Lambda: one concept per module, wired together by ``app.py``."""
