"""Command line: ``aisquared-emulator --port 8182 --token T --workspace-id 7 --seed-demo``.

Also ``python -m cdata_sync_emulator.aisquared``. The emulator keeps its syncs and runs in memory; the
SQLite databases of its connectors (the demo's shop and CRM) live in ``--data-dir``.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import serve_until_signalled
from .server import DEFAULT_EMAIL, DEFAULT_PASSWORD, MODES, AISquaredEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="aisquared-emulator", description="Local AI Squared (Multiwoven) syncs API emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8182, help="0 picks a free port")
    parser.add_argument("--data-dir", default="./aisquared-emulator-data", help="where the SQLite files go")
    parser.add_argument("--token", default="t0ken", help="the bearer token accepted by the API")
    parser.add_argument(
        "--workspace-id",
        default=None,
        help="require this Workspace-Id header (default: any or none is accepted)",
    )
    parser.add_argument(
        "--seed-demo",
        action="store_true",
        help="create the demo: source 1 (shop), destination 2 (CRM), models 1 (customers) and 2 (broken)",
    )
    parser.add_argument("--step-seconds", type=float, default=0.05, help="time spent in each run phase")
    parser.add_argument("--rows-per-second", type=float, default=None, help="throttle the copy")
    parser.add_argument("--trigger-delay", type=float, default=0.05, help="delay before a run shows")
    parser.add_argument("--per-page", type=int, default=10, help="default page size of lists")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="default",
        help="default: a static bearer token; oss: the open-source server's login, JWTs, errors and order",
    )
    parser.add_argument("--email", default=DEFAULT_EMAIL, help="oss: the seeded user's email")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="oss: the seeded user's password")
    parser.add_argument("--token-lifetime", type=float, default=1800.0, help="oss: seconds a JWT is valid")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        help="oss: a Host header name to accept, repeatable (default localhost and .squared.ai domains)",
    )
    parser.add_argument(
        "--link-base", default=None, help="scheme://host:port that the absolute paging links name instead"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted."""
    args = parse_args(argv)
    server = AISquaredEmulator(
        args.data_dir,
        args.token,
        workspace_id=args.workspace_id,
        seed_demo=args.seed_demo,
        step_seconds=args.step_seconds,
        rows_per_second=args.rows_per_second,
        trigger_delay=args.trigger_delay,
        per_page=args.per_page,
        host=args.host,
        port=args.port,
        mode=args.mode,
        email=args.email,
        password=args.password,
        token_lifetime=args.token_lifetime,
        allowed_hosts=args.allowed_host,
        link_base=args.link_base,
    )
    return serve_until_signalled(server, lambda: banner(server))


def banner(server: AISquaredEmulator) -> list[str]:
    """What the command prints once it listens (the first line names the URL)."""
    workspace = f", header Workspace-Id: {server.workspace_id}" if server.workspace_id else ""
    lines = [f"AI Squared emulator serving {server.api_url}/"]
    if server.mode == "oss":
        # the password is shown only when it is the documented default: never echo one given by the user
        password = server.password if server.password == DEFAULT_PASSWORD else "the one given with --password"
        lines.append(f"Mode oss: POST {server.api_url}/login with email {server.email}, password {password}")
        lines.append(
            f"Tokens expire after {server.account.token_lifetime if server.account else 0:g} s{workspace}"
        )
    else:
        lines.append(f"Bearer token: {server.token}  (header Authorization: Bearer <token>{workspace})")
    lines.append(f"Data dir: {server.data_dir}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
