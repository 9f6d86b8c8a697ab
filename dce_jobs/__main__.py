"""Command line: `dce-jobs serve`, `dce-jobs rotate-secrets`, `dce-jobs gen-key`, and the client (`jobs`, `run`,
`logs`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from . import __version__, cli
from .cipher import SecretBox, generate_key, load_keys
from .config import Config, from_env
from .errors import ConfigError, DceJobsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dce-jobs", description="Run commands in Docker Swarm service containers.")
    parser.add_argument("--version", action="version", version=f"dce-jobs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the HTTP API and panel")
    serve.add_argument("--host", help="address to bind (DCE_JOBS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (DCE_JOBS_PORT, default 8080)")
    sub.add_parser("rotate-secrets", help="re-encrypt every stored secret with the newest key")
    sub.add_parser("gen-key", help="print a new key for DCE_JOBS_SECRET_KEY")
    cli.add_commands(sub)
    return parser


def check_exposure(config: Config) -> None:
    """Refuse to serve a non-loopback address without a token unless anonymous access is allowed."""
    if not config.api_token and not config.is_loopback and not config.allow_anonymous:
        raise ConfigError(
            f"refusing to listen on {config.host} without DCE_JOBS_API_TOKEN (set it, or DCE_JOBS_ALLOW_ANONYMOUS=1)"
        )


def serve(config: Config) -> None:
    """Run the server until interrupted."""
    from .api.access_log import DebugAccessLogger
    from .app import create_app

    check_exposure(config)
    app = create_app(config)  # checks the data dir and the keys first

    def announce(_: str) -> None:  # run_app calls it once the store is open and the port is bound
        logging.getLogger("dce_jobs").info(
            "dce-jobs %s listening on http://%s:%d", __version__, config.host, config.port
        )

    try:
        web.run_app(
            app,
            host=config.host,
            port=config.port,
            print=announce,
            shutdown_timeout=config.shutdown_grace_s,
            access_log_class=DebugAccessLogger,
        )
    except OSError as e:
        raise ConfigError(f"cannot listen on {config.host}:{config.port}: {e.strerror or e}") from None


async def rotate(config: Config) -> int:
    """Re-encrypt all secrets with the newest key."""
    from .app import open_store
    from .jobs import rotate_secrets

    store = open_store(config)
    await store.open()
    try:
        return await rotate_secrets(store, SecretBox(load_keys(config.secret_keys, config.data_dir)))
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dce-jobs` console script."""
    args = _parser().parse_args(argv)
    if args.command in cli.COMMANDS:  # a client: the server's settings are not its business
        return cli.main(args)
    try:
        overrides = {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}
        config = from_env(**overrides)
        logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "serve":
            serve(config)
        elif args.command == "rotate-secrets":
            print(f"re-encrypted the secrets of {asyncio.run(rotate(config))} jobs with the newest key")
        elif args.command == "gen-key":
            print(generate_key())
    except DceJobsError as e:
        print(f"dce-jobs: {e.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
