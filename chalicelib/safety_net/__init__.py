"""The scheduled safety net (``reconcile_syncs``, every minute): ``reconcile`` resolves the parked
tokens whose webhook never came, through the token resolver (``chalicelib/tokens/resolver.py``);
``group_screen`` reads each group's connections once and picks which connections need their sync
history read; ``dropped`` says why Fivetran dropped a sync; ``webhook_watchdog`` checks, at most every
15 minutes, that the stage's webhook exists, is active and delivers."""
