"""Deploy or destroy one stage: the Chalice app, then the infra stack (``infra/template.yaml``) beside it.

This package owns the deploy order and the glue between the two halves: ``chalice deploy --stage S``
creates the Lambda functions and the REST API and records them in ``.chalice/deployed/S.json``; the
CloudFormation stack takes the two function ARNs from that file as parameters (so nothing is circular),
gets ``statemachine/orchestrator.asl.json`` inlined as the state machine definition, is sent through the
account's bootstrap bucket (``TemplateURL``: past TemplateBody's 51,200 bytes) and is created or
updated with boto3 (no ``aws`` CLI needed). ``destroy`` deletes the stack, then ``chalice delete``.

Usage::

    python -m deploy deploy  --stage dev [--region R] [--parameter K=V ...] [--dry-run]
    python -m deploy destroy --stage dev [--yes] [--delete-artifacts]
    python -m deploy render  [--output FILE]      # the template with the definition inlined

Stack parameters other than the function ARNs come from ``infra/params-<stage>.json`` and ``--parameter``
(see infra/README.md). Pure functions (template loading and rendering, parameters, URLs, messages) are
separate from the functions doing I/O, which take their boto3 clients and command runner as arguments.

Modules (none imports the CLI):

- ``deploy.template``: the template and the stack parameters (pure)
- ``deploy.messages``: config warnings and next steps (pure)
- ``deploy.stack``: boto3 clients, the `chalice` command, the CloudFormation stack (I/O)
- ``deploy.bootstrap``: the bootstrap bucket the template goes through (I/O)
- ``deploy.commands``: ``deploy`` and ``destroy``, the order of the steps
- ``deploy.stages``: the stage names and the app name
- ``deploy.cli`` / ``python -m deploy``: the command line

What a deploy leaves for other tools (``.chalice/deployed/<stage>.json``, the stack's outputs) is read
through ``infra.outputs``, which the operator CLI imports too: ``ops/`` never imports this package.
"""
