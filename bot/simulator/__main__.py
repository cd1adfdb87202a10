"""Run the simulator standalone: python -m bot.simulator --port 8089."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .knobs import SimulatorKnobs
from .server import Simulator

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulator", description="Local DashScope EMO simulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (0 = any free port)")
    parser.add_argument(
        "--render-speed",
        type=float,
        default=None,
        metavar="X",
        help="render seconds per second of audio (default 0.05)",
    )
    parser.add_argument(
        "--render-overhead", type=float, default=None, metavar="S", help="extra seconds per task"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        dest="api_keys",
        metavar="KEY",
        help="accepted API key, its own account (repeatable; default: any non-empty key)",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=None,
        dest="accounts",
        metavar="LABEL=KEY[,KEY...]",
        help="an account whose keys share one queue, slot, rate limits and bill (repeatable)",
    )
    parser.add_argument("--detect-rejection-style", choices=["http400", "check_pass"], default=None)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def accounts_from(args: argparse.Namespace) -> dict[str, list[str]] | None:
    """The --account options as label -> keys, or None when there are none."""
    if not args.accounts:
        return None
    accounts: dict[str, list[str]] = {}
    for spec in args.accounts:
        label, sep, keys = spec.partition("=")
        if not sep or not label or not keys:
            raise SystemExit(f"--account {spec!r}: expected LABEL=KEY[,KEY...]")
        accounts.setdefault(label, []).extend(key for key in keys.split(",") if key)
    return accounts


def knobs_from(args: argparse.Namespace) -> SimulatorKnobs:
    """Knobs with the command-line overrides applied."""
    knobs = SimulatorKnobs()
    if args.render_speed is not None:
        knobs.render_seconds_per_audio_second = args.render_speed
    if args.render_overhead is not None:
        knobs.render_overhead_seconds = args.render_overhead
    if args.detect_rejection_style is not None:
        knobs.detect_rejection_style = args.detect_rejection_style
    return knobs


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available on every platform (Windows): Ctrl-C then ends via KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    api_keys = set(args.api_keys) if args.api_keys else None
    sim = Simulator(knobs=knobs_from(args), api_keys=api_keys, accounts=accounts_from(args))
    await sim.start(host=args.host, port=args.port)
    try:
        log.info("simulator base URL: %s", sim.base_url)
        # A plain line on stdout too, for scripts that start it and wait for the URL.
        print(f"EMO simulator ready: {sim.base_url}", flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
