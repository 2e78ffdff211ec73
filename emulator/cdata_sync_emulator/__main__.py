"""Command line: ``cdata-sync-emulator --port 8181 --data-dir DIR --token T --seed-demo``.

Also ``python -m cdata_sync_emulator``.
"""

from __future__ import annotations

import argparse
import sys

from .cli import serve_until_signalled
from .dialects import DIALECTS
from .server import CDataSyncEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="cdata-sync-emulator", description="Local CData Sync emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--data-dir", default="./cdata-sync-emulator-data")
    parser.add_argument("--token", default="t0ken", help="the auth token accepted by the API")
    parser.add_argument(
        "--seed-demo", action="store_true", help="create the demo connections, jobs and pipeline"
    )
    parser.add_argument("--context-path", default="", help="serve under a path, e.g. /sync")
    parser.add_argument("--rows-per-second", type=float, default=None, help="throttle replication (per task)")
    parser.add_argument("--min-run-seconds", type=float, default=0.0, help="minimum duration of every run")
    parser.add_argument("--allow-url-token", action="store_true", help="accept ?@authtoken= in URLs")
    parser.add_argument("--v1-page-size", type=int, default=100, help="server page size of v1 collections")
    parser.add_argument(
        "--dialect",
        default="default",
        choices=sorted(DIALECTS),
        help="shape of the answers: " + "; ".join(f"{d.name}: {d.summary}" for d in DIALECTS.values()),
    )
    parser.add_argument(
        "--link-base",
        default=None,
        help="scheme://host:port named by absolute paging links instead of the emulator's own address",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted."""
    args = parse_args(argv)
    server = CDataSyncEmulator(
        args.data_dir,
        args.token,
        seed_demo=args.seed_demo,
        rows_per_second=args.rows_per_second,
        min_run_seconds=args.min_run_seconds,
        context_path=args.context_path,
        host=args.host,
        port=args.port,
        allow_url_token=args.allow_url_token,
        v1_page_size=args.v1_page_size,
        dialect=args.dialect,
        link_base=args.link_base,
    )
    return serve_until_signalled(
        server,
        lambda: [
            f"CData Sync emulator serving {server.base_url}/ (API {server.api_url}/v2/)",
            f"Auth token: {server.token}  (header x-cdata-authtoken)",
            f"Dialect: {server.dialect.name} ({server.dialect.summary})",
            f"Data dir: {server.data_dir.resolve()}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
