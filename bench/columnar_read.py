"""How fast the columnar reader turns a FOCUS export into normalised Arrow batches.

    DJANGO_SETTINGS_MODULE=portal.settings python -m bench.columnar_read [--rows 1000000]

Writes a month of FOCUS data as gzip CSV and as Parquet with ``bench.costs``'s generator (once;
the files are kept in ``--workdir`` and reused), then reads each file ``--rounds`` times with
``costs.ingest.columnar.file_batches`` and prints the best round's wall and CPU time and rows per
second. Nothing is written to a database: this is reading and normalising alone, the part of an
import the columnar reader replaces (issue 13 asks for 700,000 rows/s from Parquet and 400,000
from gzip CSV).
"""

import argparse
import os
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from bench.costs import Spec, write_csv_gz, write_parquet  # noqa: E402  (needs the settings above)
from costs.choices import ImportFormatChoices  # noqa: E402
from costs.ingest import columnar, readers  # noqa: E402


def measure(path: Path, rounds: int) -> dict:
    best = None
    for _ in range(rounds):
        source = readers.local_file(path, roots=[path.parent])
        started, cpu_started = time.perf_counter(), time.process_time()
        rows = sum(batch.num_rows for batch in columnar.file_batches(source, ImportFormatChoices.FOCUS))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if best is None or wall < best["wall"]:
            best = {"rows": rows, "wall": wall, "cpu": cpu}
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default="var/bench-columnar")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    spec = Spec(
        period="2026-10-01",
        rows=args.rows,
        seed=args.seed,
        currencies=2,
        use_case_keys=[f"UC-{number:04d}" for number in range(1, 501)],
        team_slugs=["ml", "platform", "data"],
    )
    for suffix, write in (("csv.gz", write_csv_gz), ("parquet", write_parquet)):
        path = workdir / f"focus-{args.rows}-{args.seed}.{suffix}"
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            write(partial, spec)
            partial.rename(path)
        result = measure(path, args.rounds)
        print(
            f"{suffix:8} {result['rows']:>10,} rows  {result['wall']:6.2f} s wall  {result['cpu']:6.2f} s CPU  "
            f"{result['rows'] / result['wall']:>10,.0f} rows/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
