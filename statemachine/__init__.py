"""The state machine definition (``orchestrator.asl.json``) and the tools that render and check it."""
