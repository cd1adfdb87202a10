"""``python -m bench [name ...]``: run the benchmarks (all by default)."""

from __future__ import annotations

import argparse
import sys

from bench import hostile_media, prepare, queue, result_download

BENCHMARKS = {
    "prepare": prepare.main,
    "hostile-media": hostile_media.main,
    "queue": queue.main,
    "result-download": result_download.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], default=[])
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="measured runs (default: prepare 7, queue 1, result-download 3)",
    )
    args = parser.parse_args()
    for name in args.names or list(BENCHMARKS):
        if args.runs is None:
            BENCHMARKS[name]()
        else:
            BENCHMARKS[name](runs=args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
