"""``python -m deploy``: parse the command line, run a command, turn errors into one line and an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.commands import DeployOptions, DestroyOptions, deploy, destroy
from deploy.errors import DeployError
from deploy.stages import STAGES
from deploy.template import DEFINITION_PATH, load_template, parse_overrides, render_template

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="Deploy or destroy a stage: the Chalice app and the infra stack (infra/template.yaml).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    dep = commands.add_parser("deploy", help="chalice deploy, then create or update the infra stack")
    dep.add_argument("--stage", required=True, choices=STAGES)
    dep.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION, else the profile's)")
    dep.add_argument(
        "--parameter",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack parameter, overriding infra/params-<stage>.json (repeatable)",
    )
    dep.add_argument("--params-file", type=Path, help="parameter file (default: infra/params-<stage>.json)")
    dep.add_argument("--dry-run", action="store_true", help="validate and print the plan; deploy nothing")
    dep.add_argument("--skip-chalice", action="store_true", help="reuse .chalice/deployed/<stage>.json")

    des = commands.add_parser("destroy", help="delete the infra stack, then chalice delete")
    des.add_argument("--stage", required=True, choices=STAGES)
    des.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION, else the profile's)")
    des.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    des.add_argument(
        "--delete-artifacts", action="store_true", help="also empty and delete the retained artifacts bucket"
    )

    ren = commands.add_parser("render", help="print the template with the state machine definition inlined")
    ren.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args = parse_args(argv)
    try:
        if args.command == "deploy":
            deploy(
                DeployOptions(
                    stage=args.stage,
                    region=args.region,
                    overrides=parse_overrides(args.parameter),
                    params_file=args.params_file,
                    dry_run=args.dry_run,
                    skip_chalice=args.skip_chalice,
                )
            )
        elif args.command == "destroy":
            destroy(
                DestroyOptions(
                    stage=args.stage, region=args.region, yes=args.yes, delete_artifacts=args.delete_artifacts
                )
            )
        else:
            rendered = render_template(load_template(), DEFINITION_PATH.read_text(encoding="utf-8"))
            text = json.dumps(rendered, indent=2) + "\n"
            if args.output:
                args.output.parent.mkdir(parents=True, exist_ok=True)
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
    except DeployError as exc:  # every problem on its own line (the preflight reports them all)
        for line in str(exc).splitlines() or [""]:
            print(f"error: {line.strip()}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:  # credentials, permissions, throttling...
        print(f"error: AWS said: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
