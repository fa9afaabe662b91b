"""Precision and recall of duplicate detection on a labelled set of pairs (docs/duplicates.md).

    propylon duplicate_quality [--labels tests/inventory/duplicate_pairs.yaml] [--pairs]

Needs no database: the labelled use cases are indexed as plain objects, with their business
units and the data sources their releases read, exactly as ``current_index()`` indexes rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import duplicates

DEFAULT_LABELS = Path(settings.BASE_DIR) / "tests" / "inventory" / "duplicate_pairs.yaml"
LABELS = ("same", "related", "unrelated")
THRESHOLDS = tuple(round(0.20 + 0.02 * step, 2) for step in range(11))


class LabelError(ValueError):
    """The labelled file is malformed; the message names the file and the place."""


@dataclass(frozen=True)
class ScoredPair:
    first: str
    second: str
    label: str
    score: float  # words and context
    words_only: float  # the same index with the context switched off


@dataclass(frozen=True)
class Quality:
    threshold: float
    precision: float  # flagged pairs that are the same effort
    recall: float  # same-effort pairs flagged
    lenient_precision: float  # flagged pairs that are the same effort or related
    flagged: int


def load_labels(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelError(f"{path}: cannot be read ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        raise LabelError(f"{path}: not valid YAML ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("use_cases"), dict):
        raise LabelError(f"{path}: needs a mapping with use_cases, data_sources and pairs.")
    sources = data.get("data_sources") or {}
    for key, use_case in data["use_cases"].items():
        if not isinstance(use_case, dict) or not use_case.get("name") or not use_case.get("purpose"):
            raise LabelError(f"{path}: use_cases.{key}: needs a name and a purpose.")
        for source in use_case.get("data_sources") or ():
            if source not in sources:
                raise LabelError(f"{path}: use_cases.{key}.data_sources: unknown data source “{source}”.")
    pairs = data.get("pairs") or {}
    for label, listed in pairs.items():
        if label not in LABELS:
            raise LabelError(f"{path}: pairs.{label}: the labels are {', '.join(LABELS)}.")
        for number, pair in enumerate(listed or ()):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(key in data["use_cases"] for key in pair)
            ):
                raise LabelError(f"{path}: pairs.{label}[{number}]: two keys of use_cases, got {pair!r}.")
    return data


@contextmanager
def _context_switched_off() -> Iterator[None]:
    # Measuring only: the same index with the words alone, to show what the context adds.
    saved = duplicates.CONTEXT_BOOST
    duplicates.CONTEXT_BOOST = 0.0
    try:
        yield
    finally:
        duplicates.CONTEXT_BOOST = saved


def _pair_scores(data: dict) -> dict[frozenset[str], float]:
    source_pks = {key: number for number, key in enumerate(data.get("data_sources") or {}, start=1)}
    catalogue = [
        SimpleNamespace(pk=source_pks[key], name=source.get("name", ""), system=source.get("system", ""))
        for key, source in (data.get("data_sources") or {}).items()
    ]
    units: dict[str, int] = {}
    keys = list(data["use_cases"])
    use_cases = [
        SimpleNamespace(
            pk=number,
            name=use_case["name"],
            purpose=use_case["purpose"],
            tags=use_case.get("tags") or [],
            business_unit_id=units.setdefault(use_case["business_unit"], len(units) + 1)
            if use_case.get("business_unit")
            else None,
            data_source_ids=[source_pks[key] for key in use_case.get("data_sources") or ()],
        )
        for number, use_case in enumerate(data["use_cases"].values(), start=1)
    ]
    index = duplicates.DuplicateIndex.build(use_cases, data_sources=catalogue)
    return {
        frozenset((keys[first - 1], keys[second - 1])): score for first, second, score in index.pairs(0.0001)
    }


def score_labels(data: dict) -> list[ScoredPair]:
    """Every labelled pair with its score, with and without the context."""
    with_context = _pair_scores(data)
    with _context_switched_off():
        words_only = _pair_scores(data)
    return [
        ScoredPair(
            first,
            second,
            label,
            round(with_context.get(frozenset((first, second)), 0.0), 3),
            round(words_only.get(frozenset((first, second)), 0.0), 3),
        )
        for label in LABELS
        for first, second in (data.get("pairs") or {}).get(label) or ()
    ]


def quality(scored: list[ScoredPair], threshold: float, *, words_only: bool = False) -> Quality:
    flagged = [pair for pair in scored if (pair.words_only if words_only else pair.score) >= threshold]
    same = sum(pair.label == "same" for pair in scored)
    hits = sum(pair.label == "same" for pair in flagged)
    near = sum(pair.label in ("same", "related") for pair in flagged)
    return Quality(
        threshold=threshold,
        precision=hits / len(flagged) if flagged else 1.0,
        recall=hits / same if same else 1.0,
        lenient_precision=near / len(flagged) if flagged else 1.0,
        flagged=len(flagged),
    )


class Command(BaseCommand):
    help = "Precision and recall of duplicate detection on a labelled set of pairs."
    requires_system_checks = []  # reads a YAML file and computes: no database, no templates

    def add_arguments(self, parser):
        parser.add_argument("--labels", default=str(DEFAULT_LABELS), help="The labelled YAML file.")
        parser.add_argument("--pairs", action="store_true", help="Also list every pair with its scores.")

    def handle(self, *args, labels, pairs, **options):
        try:
            data = load_labels(Path(labels))
        except LabelError as exc:
            raise CommandError(str(exc)) from None
        scored = score_labels(data)
        counts = {label: sum(pair.label == label for pair in scored) for label in LABELS}
        self.stdout.write(
            f"{len(data['use_cases'])} use cases, {len(scored)} labelled pairs "
            f"({counts['same']} same, {counts['related']} related, {counts['unrelated']} unrelated). "
            f"Default threshold {duplicates.DEFAULT_THRESHOLD}."
        )
        self.stdout.write("")
        self.stdout.write(
            "| Threshold | Precision | Recall | Precision, related allowed | Flagged "
            "| Words only: precision | recall |"
        )
        self.stdout.write("|---|---|---|---|---|---|---|")
        for threshold in THRESHOLDS:
            both, words = quality(scored, threshold), quality(scored, threshold, words_only=True)
            self.stdout.write(
                f"| {threshold:.2f} | {both.precision:.2f} | {both.recall:.2f} | {both.lenient_precision:.2f} "
                f"| {both.flagged} | {words.precision:.2f} | {words.recall:.2f} |"
            )
        if pairs:
            self.stdout.write("")
            self.stdout.write("| Label | Pair | Score | Words only |")
            self.stdout.write("|---|---|---|---|")
            for pair in sorted(scored, key=lambda pair: (LABELS.index(pair.label), -pair.score)):
                self.stdout.write(
                    f"| {pair.label} | {pair.first} / {pair.second} | {pair.score:.3f} | {pair.words_only:.3f} |"
                )
