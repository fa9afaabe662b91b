"""Duplicate detection: which use cases describe the same effort in different words.

DESIGN.md's story: three teams each build "search over our internal documents" and call it a
knowledge assistant, enterprise search and DocFinder. This module must put those three together
and leave a support chatbot, a contract summariser or a CV screener alone.

How: TF-IDF cosine similarity over name + purpose + tags, after a normalisation that makes
paraphrases meet (lowercase, punctuation, stop words, a light suffix stemmer and a small synonym
map of this domain's vocabulary). Pure Python, no dependencies: it runs the same on the SQLite
quick start and on PostgreSQL, and needs no model download behind an enterprise firewall.

Scale: the index is built once per process and reused while the use case table is unchanged
(a cheap fingerprint query per check); documents are sparse, unit-normalised and reached through
an inverted index, so a check touches only use cases that share a term with the text.

Permissions: the index knows every use case; what reaches a person goes through
``restrict(UseCase.objects…, user)`` here, before any use case (or its existence) is returned.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from itertools import islice, pairwise
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Sum
from django.db.models.functions import Length

from inventory.models import Dataset, DataSource, NotDuplicate, Release, UseCase
from portal.permissions import Action, restrict

#
# Vocabulary (data, not code)
#

# Paraphrases of one idea map to one concept. TF-IDF alone only matches identical words, and
# teams describe the same effort in their own words ("Confluence" vs "intranet documentation",
# "find" vs "retrieval-augmented Q&A"). The list stays small and specific to what companies
# build with AI; ambiguous words stay out ("manual", "agent", "project") or are pinned by a
# phrase first ("use case" is filler, so "case" alone can mean a support case).
# Keys are what the UI shows when the concept explains a match.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "documents": ("doc", "docs", "document", "documentation", "wiki", "confluence", "sharepoint",
                  "share point", "knowledge", "knowledge base", "kb", "intranet", "policy", "handbook"),
    "search": ("search", "find", "finder", "lookup", "look up", "retrieval", "retrieve",
               "retrieval augmented", "retrieval augmented generation", "rag", "question answering",
               "qa", "ask", "answer", "question", "query", "semantic search"),
    "chatbot": ("chatbot", "chat bot", "chat", "assistant", "bot", "copilot", "co pilot",
                "virtual agent", "conversational"),
    "ticket": ("ticket", "case", "support request", "service request", "incident"),
    "support": ("support", "helpdesk", "help desk", "service desk", "customer service", "customer care"),
    "contract": ("contract", "agreement", "msa", "nda"),
    "summary": ("summary", "summarize", "summarization", "summarizer", "digest", "tldr", "recap",
                "synopsis"),
    "invoice": ("invoice", "bill", "accounts payable"),
    "forecast": ("forecast", "predict", "prediction", "projection"),
    "translation": ("translate", "translation", "translator", "localize", "localization"),
    "employee": ("employee", "staff", "colleague", "worker", "workforce", "personnel"),
    "email": ("email", "e mail", "mail", "inbox", "mailbox"),
    "candidate": ("cv", "resume", "curriculum vitae", "applicant", "candidate"),
    "hiring": ("hiring", "hire", "recruit", "recruiting", "recruitment", "recruiter", "talent acquisition"),
    "triage": ("triage", "route", "router", "classify", "categorize", "categorization", "dispatch"),
    "extraction": ("extract", "extraction", "capture", "parse", "parser", "ocr", "digitize"),
    "detection": ("detect", "detection", "detector", "flag", "spot", "alert"),
    # Unusual is what fraud looks like in the data: "anomaly triage" and "fraud scoring" of the
    # same invoices are one effort (issue 10).
    "anomaly": ("anomaly", "anomalous", "unusual", "suspicious", "outlier", "irregular", "irregularity",
                "fraud", "fraudulent"),
    "supplier": ("supplier", "vendor", "payee"),
    "expense": ("expense", "expense claim", "expense report", "reimbursement"),
    "churn": ("churn", "cancel", "cancellation", "attrition"),
    "customer": ("customer", "shopper", "subscriber", "client"),
    "job": ("job", "vacancy", "open position", "job opening", "requisition"),
    "stock": ("stock", "inventory", "replenishment", "replenish", "reorder", "restock"),
    "warehouse": ("warehouse", "distribution centre", "distribution center", "fulfilment centre", "depot"),
    # Own concepts so that the words inside them do not read as their neighbours above.
    "audit finding": ("finding", "findings", "audit finding"),
    "business case": ("business case",),
    "test case": ("test case",),
}  # fmt: skip

# Filler that says nothing about what an effort does: English function words plus the words
# every AI use case uses ("use case", "AI", "using", "help"). Dropping them keeps two unrelated
# descriptions from meeting on "the", "our" or "AI".
STOP_WORDS = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "either", "else", "every",
    "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "less", "let", "lets",
    "may", "me", "might", "more", "most", "must", "my", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "out", "over", "own", "per", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "under", "until", "up", "upon", "us", "very",
    "via", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "within", "without", "would", "you", "your", "yours",
    # The vocabulary of every AI use case.
    "ai", "ml", "genai", "llm", "llms", "gpt", "use", "uses", "used", "using", "usecase", "based",
    "help", "helps", "allow", "allows", "enable", "enables", "new", "tool", "tools", "system",
    "systems", "solution", "platform", "etc", "eg", "ie",
})  # fmt: skip
FILLER_PHRASES = (("use", "case"),)

# Who a use case serves. Two efforts for the same people, on the same data, in the same domain
# are far more likely one effort than two texts sharing words (issue 10: an "invoice anomaly
# triage" for AP clerks found nothing, though a production invoice fraud scoring served the same
# clerks). Employees and staff are left out on purpose: nearly every internal tool serves them.
USERS: dict[str, tuple[str, ...]] = {
    "accounts payable": ("ap clerk", "ap team", "accounts payable", "accounts payable clerk",
                         "accounts payable team", "payables team", "payables clerk", "payable clerk"),
    "finance controllers": ("controller", "financial controller", "finance controller", "finance team",
                            "controlling"),
    "support agents": ("agent", "support agent", "service agent", "agent group", "support team",
                       "customer service", "customer care", "contact centre", "call centre"),
    "service desk": ("service desk", "it service desk", "service desk engineer", "service desk staff",
                     "helpdesk", "help desk", "it support"),
    "customers": ("customer", "shopper", "subscriber", "website visitor", "client"),
    "recruiters": ("recruiter", "hiring manager", "talent acquisition", "talent acquisition team",
                   "recruiting team"),
    "lawyers": ("lawyer", "legal team", "counsel", "in house counsel", "paralegal", "attorney",
                "legal department"),
    "developers": ("developer", "software engineer", "programmer", "engineering team"),
    "sales": ("sales rep", "sales team", "account manager", "account executive", "salespeople"),
    "retention team": ("retention team", "retention"),
    "planners": ("planner", "demand planner", "supply planner"),
    "new joiners": ("new joiner", "new hire", "new employee", "joiner"),
    # Not people: "virtual agent" is the chatbot itself.
    "": ("virtual agent", "ai agent", "conversational agent"),
}  # fmt: skip

# What part of the business a text is about, from its terms (synonym concepts or stems). A use
# case's domain is the one most of its domain words point to (ties keep both).
DOMAINS: dict[str, tuple[str, ...]] = {
    "finance": ("invoice", "payment", "pay", "vat", "ledger", "expense", "budget", "tax", "reconciliation",
                "spend", "erp", "bank", "accounting", "controller", "finance", "financial", "payable"),
    "legal": ("contract", "clause", "legal", "lawyer", "counsel", "litigation", "liability", "compliance"),
    "people": ("hiring", "candidate", "job", "interview", "onboarding", "benefit", "payroll", "hr",
               "joiner"),
    "customer service": ("ticket", "support", "complaint", "return", "refund"),
    "technology": ("code", "api", "deploy", "infrastructure", "server", "outage", "runbook", "itsm"),
    "supply chain": ("demand", "warehouse", "sku", "stock", "shipment", "logistics", "procurement"),
    "sales and marketing": ("churn", "lead", "sales", "retention", "marketing", "campaign", "crm", "pricing",
                            "shop"),
}  # fmt: skip

# How much each shared fact counts in the context similarity (0..1), and how far a full context
# match lifts the word score: score = words + CONTEXT_BOOST * context * (1 - words). Context
# alone never makes a duplicate: the words must already score TEXT_FLOOR (two unrelated finance
# tools share a domain and a business unit, and that is all). Measured on the labelled set of
# tests/inventory/duplicate_pairs.yaml (docs/duplicates.md).
CONTEXT_WEIGHTS = {"data_sources": 0.4, "users": 0.3, "domain": 0.2, "business_unit": 0.1}
CONTEXT_BOOST = 0.1
TEXT_FLOOR = 0.12

FIELD_WEIGHTS = {"name": 1.5, "purpose": 1.0, "tags": 1.5}

# Adjacent pairs of normalised words ("internal documents", "demand forecast") as extra terms,
# at this fraction of a word's weight. Off: measured below, they did not help.
BIGRAM_WEIGHT = 0.0

# Measured, not guessed (docs/duplicates.md; reproduce with `propylon duplicate_quality`).
# Words alone, 0.28 was chosen on the 15-use-case portfolio of tests/inventory/test_duplicates.py
# and a held-out portfolio of 20 (together: P 0.71, R 1.0). Issue 10 showed what it missed: an
# "invoice anomaly triage" scored 0.25 against the invoice fraud scoring serving the same AP
# clerks. On the labelled set tests/inventory/duplicate_pairs.yaml (34 use cases, 54 pairs, 14 of
# them one effort), the old code at 0.28 has P 0.73, R 0.79. With the vocabulary above (anomaly,
# supplier, expense, churn, job, stock...) and the context lift, 0.30 gives P 0.74, R 1.0, and
# every flagged pair is the same effort or a related one (the words alone at 0.30: R 0.93). 0.30
# is the highest threshold with full recall there, and the fixture portfolio still yields exactly
# its four duplicate pairs. Leaning to recall stays deliberate: a false alarm costs a glance and
# a click, a missed duplicate costs a team's quarter. Bigrams (at 0.25 or 0.5 of a word's
# weight) and other field weights (flat, name 2 / tags 1) narrowed the gap between duplicates
# and near misses instead of widening it.
DEFAULT_THRESHOLD = 0.30

SHARED_TERMS_SHOWN = 5

# What a similarity check reads of a purpose: the model's own limit (a generous 10,000
# characters). A longer text (an API client, a pasted document) is compared on its beginning
# rather than refused: the panel answers while someone types, it does not validate.
QUERY_MAX_CHARS = 10_000
NAME_MAX_CHARS = 200

#
# Normalisation
#

# DocFinder -> Doc Finder, HRBot -> HR Bot; but CVs and APIs stay whole.
_CAMEL_CASE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})")
_Q_AND_A = re.compile(r"\bq\s*&\s*a\b")
_WORD = re.compile(r"[a-z0-9]+")
# British spellings meet American ones before stemming: summarise(d/s) -> summarize(d/s).
_BRITISH_ISE = re.compile(r"(?<=[a-z]{4})is(e|ed|es|ing|er|ers|ation|ations)$")


def _fold(text: str) -> str:
    text = _CAMEL_CASE.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))  # résumé -> resume
    return _Q_AND_A.sub("qa", text.lower())


@lru_cache(maxsize=50_000)  # words repeat (Zipf): most tokens of a rebuild hit the cache
def stem(word: str) -> str:
    """A light suffix stemmer: enough for plurals and verb forms to meet, predictable to read."""
    word = _BRITISH_ISE.sub(r"iz\1", word)
    if len(word) <= 3 or word.isdigit():
        return word
    # Plurals.
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # Verb forms: -ing, -ed (running -> run, classified -> classify).
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            elif word.endswith("i"):
                word = word[:-1] + "y"
            break
    # Nouns of action: summarization -> summarize, classification -> classify, automation -> automate.
    if word.endswith("ization"):
        word = word[:-7] + "ize"
    elif word.endswith("ification"):
        word = word[:-9] + "ify"
    elif word.endswith("ation") and len(word) > 7:
        word = word[:-5] + "ate"
    elif word.endswith("izer"):
        word = word[:-1]
    # A final e goes so that score / scored / scoring meet.
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _vocabulary() -> tuple[dict[str, str], dict[tuple[str, ...], str]]:
    words: dict[str, str] = {}
    phrases: dict[tuple[str, ...], str] = {}
    for concept, variants in SYNONYMS.items():
        for variant in variants:
            parts = _WORD.findall(_fold(variant))
            if len(parts) == 1:
                words[parts[0]] = concept
                words.setdefault(stem(parts[0]), concept)
            else:
                phrases[tuple(stem(part) for part in parts)] = concept
    for phrase in FILLER_PHRASES:
        phrases[tuple(stem(part) for part in phrase)] = ""
    return words, phrases


_CONCEPT_OF_WORD, _CONCEPT_OF_PHRASE = _vocabulary()
_LONGEST_PHRASE = max(len(phrase) for phrase in _CONCEPT_OF_PHRASE)


def _tokens(text: str) -> tuple[list[str], list[str]]:
    words = _WORD.findall(_fold(text))
    return words, [stem(word) for word in words]


def terms(text: str) -> list[tuple[str, str]]:
    """The normalised terms of ``text`` as (term, the word a person would recognise) pairs."""
    return _terms(*_tokens(text))


def _terms(words: list[str], stems: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(words):
        for length in range(min(_LONGEST_PHRASE, len(words) - position), 1, -1):
            concept = _CONCEPT_OF_PHRASE.get(tuple(stems[position : position + length]))
            if concept is not None:
                if concept:
                    found.append((concept, concept))
                position += length
                break
        else:
            word, word_stem = words[position], stems[position]
            position += 1
            if word in STOP_WORDS or len(word) < 2 or word.isdigit():
                continue
            concept = _CONCEPT_OF_WORD.get(word) or _CONCEPT_OF_WORD.get(word_stem)
            # Interned: 5,000 use cases repeat a few thousand words; one copy of each is enough.
            found.append((concept, concept) if concept else (sys.intern(word_stem), sys.intern(word)))
    return found


def _features(
    name: str, purpose: str, tags: Iterable[str]
) -> tuple[dict[str, float], dict[str, str], frozenset[str]]:
    """Weighted term counts of one use case (name and tags count more than purpose), how to
    show each term, and the people it serves."""
    counts: dict[str, float] = defaultdict(float)
    shown: dict[str, str] = {}
    served: set[str] = set()
    fields = (("name", [name or ""]), ("purpose", [purpose or ""]), ("tags", list(tags or ())))
    for field, texts in fields:
        weight = FIELD_WEIGHTS[field]
        for text in texts:
            words, stems = _tokens(str(text))
            served |= _users(stems)
            found = _terms(words, stems)
            for term, word in found:
                counts[term] += weight
                shown.setdefault(term, word)
            if BIGRAM_WEIGHT:
                for (first, first_word), (second, second_word) in pairwise(found):
                    if first != second:
                        bigram = f"{first} {second}"
                        counts[bigram] += weight * BIGRAM_WEIGHT
                        shown.setdefault(bigram, f"{first_word} {second_word}")
    return dict(counts), shown, frozenset(served)


def _tf(count: float) -> float:
    # Sublinear: a purpose that says "documents" four times is not four times about documents.
    return 1.0 + math.log(count) if count > 1.0 else count


#
# Context: who it serves, its domain, its data, its business unit
#


def _phrase_table(groups: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    return {
        tuple(stem(part) for part in _WORD.findall(_fold(variant))): label
        for label, variants in groups.items()
        for variant in variants
    }


_USER_OF_PHRASE = _phrase_table(USERS)
_LONGEST_USER_PHRASE = max(len(phrase) for phrase in _USER_OF_PHRASE)
_DOMAIN_OF_TERM = {
    _CONCEPT_OF_WORD.get(word) or stem(word): domain for domain, words in DOMAINS.items() for word in words
}


_FIRST_OF_USER_PHRASE = frozenset(phrase[0] for phrase in _USER_OF_PHRASE)


def users(text: str) -> frozenset[str]:
    """The groups of people ``text`` says it serves (the keys of :data:`USERS`)."""
    return frozenset(_users(_tokens(text)[1]))


def _users(stems: list[str]) -> set[str]:
    found: set[str] = set()
    position = 0
    while position < len(stems):
        if stems[position] not in _FIRST_OF_USER_PHRASE:  # most words: no phrase starts here
            position += 1
            continue
        for length in range(min(_LONGEST_USER_PHRASE, len(stems) - position), 0, -1):
            label = _USER_OF_PHRASE.get(tuple(stems[position : position + length]))
            if label is not None:
                if label:
                    found.add(label)
                position += length
                break
        else:
            position += 1
    return found


def domains(counts: dict[str, float]) -> frozenset[str]:
    """The domain(s) most of a text's terms point to; empty when none does."""
    tally: Counter[str] = Counter()
    for term, count in counts.items():
        domain = _DOMAIN_OF_TERM.get(term)
        if domain:
            tally[domain] += count
    if not tally:
        return frozenset()
    most = max(tally.values())
    return frozenset(domain for domain, count in tally.items() if count == most)


@dataclass(frozen=True)
class _Text:
    """What the index keeps of one text: weighted terms, how to show them, users and domains."""

    counts: dict[str, float]
    shown: dict[str, str]
    users: frozenset[str]
    domains: frozenset[str]


def _describe(name: str, purpose: str, tags: Iterable[str]) -> _Text:
    counts, shown, served = _features(name, purpose, tuple(tags or ()))
    return _Text(counts, shown, served, domains(counts))


@dataclass(frozen=True)
class Context:
    """The facts beside the words that say two use cases serve the same need."""

    business_unit: int | None = None
    data_sources: frozenset[int] = frozenset()
    users: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()


def _overlap(first: frozenset, second: frozenset) -> float:
    """Jaccard: the share of the two sets' union that both hold."""
    if not first or not second or first.isdisjoint(second):  # the common case, and the cheap one
        return 0.0
    return len(first & second) / len(first | second)


def context_similarity(first: Context, second: Context) -> float:
    """0..1: the weighted share of the facts beside the words that two use cases have in common."""
    weights = CONTEXT_WEIGHTS
    score = 0.0
    if first.data_sources and second.data_sources:
        score += weights["data_sources"] * _overlap(first.data_sources, second.data_sources)
    if first.users and second.users:
        score += weights["users"] * _overlap(first.users, second.users)
    if first.domains and not first.domains.isdisjoint(second.domains):
        score += weights["domain"]
    if first.business_unit is not None and first.business_unit == second.business_unit:
        score += weights["business_unit"]
    return score


def combine(text_score: float, context_score: float) -> float:
    """The duplicate score: the words, lifted by the context when the words already meet."""
    if text_score < TEXT_FLOOR or context_score <= 0:
        return text_score
    return text_score + CONTEXT_BOOST * context_score * (1.0 - text_score)


def _candidate_floor(threshold: float) -> float:
    """The lowest word score that can still reach ``threshold`` with a full context match."""
    lifted = (threshold - CONTEXT_BOOST) / (1.0 - CONTEXT_BOOST)
    return min(threshold, max(TEXT_FLOOR, lifted))


class _SourceCatalog:
    """Data sources a text names: "SAP: Invoice" is mentioned by "invoices in SAP". A signature
    is all the terms of a source's name, or of its system, and needs two terms at least: one
    word ("Invoice", "Ticket") is the topic, not the source."""

    def __init__(self, data_sources: Iterable[Any] = ()):
        self.label: dict[int, str] = {}
        self._by_term: dict[str, list[tuple[int, frozenset[str]]]] = defaultdict(list)
        for source in data_sources:
            self.label[source.pk] = source.system or source.name
            for text in {source.name or "", source.system or ""}:
                signature = frozenset(term for term, _word in terms(text))
                if len(signature) >= 2:
                    self._by_term[min(signature)].append((source.pk, signature))

    def mentioned(self, found_terms: Iterable[str]) -> frozenset[int]:
        present = set(found_terms)
        return frozenset(
            pk for term in present for pk, signature in self._by_term.get(term, ()) if signature <= present
        )


#
# The index
#


@dataclass(frozen=True)
class Candidate:
    """A use case similar to some text, before permissions: only ids, for the index's callers."""

    pk: int
    score: float
    explain: Callable[[], tuple[str, ...]] = dataclass_field(repr=False, compare=False)

    @property
    def shared_terms(self) -> tuple[str, ...]:
        # Explained on demand: a check ranks hundreds of candidates and shows five.
        return self.explain()


class DuplicateIndex:
    """TF-IDF vectors of every use case, unit-normalised, behind an inverted index.

    Immutable once built. ``postings[term]`` holds the positions of the documents containing the
    term (ascending) and their weights, in two compact arrays. At 5,000 use cases the whole index,
    with the tokenisation it keeps for the next rebuild, is about 20 MB.
    """

    build_count = 0  # How many indexes this process built; tests assert the cache is used.

    def __init__(
        self,
        *,
        pks,
        terms_of,
        weights_of,
        postings,
        idf,
        shown,
        features,
        not_duplicates=frozenset(),
        contexts=None,
        sources=None,
    ):
        self.pks: list[int] = pks
        self.position_of: dict[int, int] = {pk: position for position, pk in enumerate(pks)}
        self._terms_of: list[tuple[str, ...]] = terms_of  # each document's terms, and
        self._weights_of: list[array] = weights_of  # their weights in the unit vector
        self._postings: dict[str, tuple[array, array]] = postings
        self._idf: dict[str, float] = idf
        self._shown: dict[str, str] = shown
        self._features = features  # text -> features, so a rebuild re-tokenises only what changed
        self._contexts: list[Context] = contexts if contexts is not None else [Context()] * len(pks)
        self._sources: _SourceCatalog = sources if sources is not None else _SourceCatalog()
        self._pairs_at: dict[float, list[tuple[int, int, float]]] = {}
        self.not_duplicates: frozenset[tuple[int, int]] = frozenset()
        self._not_duplicate_partners: dict[int, set[int]] = {}
        self._set_not_duplicates(not_duplicates)

    def __len__(self) -> int:
        return len(self.pks)

    @classmethod
    def build(
        cls,
        use_cases: Iterable[Any],
        *,
        not_duplicates: Iterable[tuple[int, int]] = (),
        previous: DuplicateIndex | None = None,
        data_sources: Iterable[Any] = (),
    ) -> DuplicateIndex:
        """Index objects with ``pk``, ``name``, ``purpose`` and ``tags`` (and, when they have
        them, ``business_unit_id`` and ``data_source_ids``: the sources their releases read).
        ``data_sources`` is the catalogue (``pk``, ``name``, ``system``) texts may name.
        ``previous`` lends the tokenisation of every text that did not change."""
        cls.build_count += 1
        known = previous._features if previous is not None else {}
        sources = _SourceCatalog(data_sources)
        features: dict[tuple, _Text] = {}
        pks: list[int] = []
        documents: list[dict[str, float]] = []
        contexts: list[Context] = []
        document_frequency: Counter[str] = Counter()
        shown: dict[str, str] = {}
        for use_case in use_cases:
            tags = tuple(use_case.tags or ())
            text = (use_case.name, use_case.purpose, tags)
            found = features.get(text) or known.get(text) or _describe(use_case.name, use_case.purpose, tags)
            features[text] = found
            counts = found.counts
            pks.append(use_case.pk)
            documents.append(counts)
            contexts.append(
                Context(
                    business_unit=getattr(use_case, "business_unit_id", None),
                    data_sources=frozenset(getattr(use_case, "data_source_ids", ()))
                    | sources.mentioned(counts),
                    users=found.users,
                    domains=found.domains,
                )
            )
            document_frequency.update(counts.keys())
            for term, word in found.shown.items():
                shown.setdefault(term, word)
        total = len(documents)
        # Smoothed IDF (as scikit-learn's): never zero, so a term every document has still counts a little.
        idf = {term: math.log((1 + total) / (1 + df)) + 1.0 for term, df in document_frequency.items()}
        postings: dict[str, tuple[array, array]] = {}
        terms_of: list[tuple[str, ...]] = []
        weights_of: list[array] = []
        for position, counts in enumerate(documents):
            vector = {term: _tf(count) * idf[term] for term, count in counts.items()}
            norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
            weights = array("d", (weight / norm for weight in vector.values()))
            for term, weight in zip(vector, weights, strict=True):
                entry = postings.get(term)
                if entry is None:
                    entry = postings[term] = (array("i"), array("d"))
                entry[0].append(position)
                entry[1].append(weight)
            terms_of.append(tuple(vector))
            weights_of.append(weights)
        return cls(
            pks=pks,
            terms_of=terms_of,
            weights_of=weights_of,
            postings=postings,
            idf=idf,
            shown=shown,
            features=features,
            not_duplicates=not_duplicates,
            contexts=contexts,
            sources=sources,
        )

    def with_not_duplicates(self, not_duplicates: Iterable[tuple[int, int]]) -> DuplicateIndex:
        """The same vectors (and computed pairs) with another set of "not a duplicate" decisions:
        marking a pair must not cost a rebuild."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._set_not_duplicates(not_duplicates)
        return clone

    def _set_not_duplicates(self, pairs: Iterable[tuple[int, int]]) -> None:
        ordered = frozenset((min(first, second), max(first, second)) for first, second in pairs)
        partners: dict[int, set[int]] = defaultdict(set)
        for first, second in ordered:
            partners[first].add(second)
            partners[second].add(first)
        self.not_duplicates = ordered
        self._not_duplicate_partners = dict(partners)

    def is_not_duplicate(self, first_pk: int, second_pk: int) -> bool:
        return (min(first_pk, second_pk), max(first_pk, second_pk)) in self.not_duplicates

    def _weight(self, term: str, position: int) -> float:
        positions, weights = self._postings[term]
        at = bisect_left(positions, position)
        return weights[at] if at < len(positions) and positions[at] == position else 0.0

    def _vectorise(self, name: str, purpose: str, tags: Iterable[str]) -> tuple[dict[str, float], _Text]:
        described = _describe(name, purpose, tuple(tags or ()))
        unseen_idf = math.log(1 + len(self.pks)) + 1.0
        vector = {
            term: _tf(count) * self._idf.get(term, unseen_idf) for term, count in described.counts.items()
        }
        norm = math.sqrt(sum(weight * weight for weight in vector.values())) or 1.0
        return {term: weight / norm for term, weight in vector.items()}, described

    def context_of(self, pk: int) -> Context:
        return self._contexts[self.position_of[pk]]

    def _explain_context(self, first: Context, second: Context) -> tuple[str, ...]:
        """Why the context lifted a score, in the words the panel shows after the shared terms."""
        reasons = [f"users: {label}" for label in sorted(first.users & second.users)]
        reasons += [
            f"data: {self._sources.label.get(pk, pk)}"
            for pk in sorted(first.data_sources & second.data_sources)
        ]
        if first.business_unit is not None and first.business_unit == second.business_unit:
            reasons.append("same business unit")
        return tuple(reasons)

    def _explain(self, contributions: Iterable[tuple[str, float]], shown: dict[str, str]) -> tuple[str, ...]:
        words: list[str] = []
        for term, contribution in sorted(contributions, key=lambda item: (-item[1], item[0])):
            if contribution <= 0:
                break
            word = shown.get(term) or self._shown.get(term, term)
            if word not in words:
                words.append(word)
            if len(words) == SHARED_TERMS_SHOWN:
                break
        return tuple(words)

    def search(
        self,
        *,
        name: str,
        purpose: str,
        tags: Iterable[str] = (),
        threshold: float = DEFAULT_THRESHOLD,
        exclude_pk: int | None = None,
        business_unit: int | None = None,
    ) -> list[Candidate]:
        """Every indexed use case scoring at least ``threshold`` against the text, best first.

        The text's context is what it says (users, domain, data sources it names) plus
        ``business_unit`` and, for a use case being edited (``exclude_pk``), what the index knows
        of it (its business unit, the data sources its releases read).
        No permissions here: callers filter through ``restrict`` (see :func:`similar_use_cases`).
        """
        query, described = self._vectorise(name, purpose, tags)
        shown = described.shown
        known = self._contexts[self.position_of[exclude_pk]] if exclude_pk in self.position_of else Context()
        context = Context(
            business_unit=business_unit if business_unit is not None else known.business_unit,
            data_sources=known.data_sources | self._sources.mentioned(described.counts),
            users=described.users,
            domains=described.domains,
        )
        scores: dict[int, float] = defaultdict(float)
        for term, query_weight in query.items():
            entry = self._postings.get(term)
            if entry is None:
                continue
            for position, weight in zip(*entry, strict=True):
                scores[position] += query_weight * weight
        skip = (
            {exclude_pk, *self._not_duplicate_partners.get(exclude_pk, ())} if exclude_pk is not None else ()
        )
        floor = _candidate_floor(threshold)
        lifted = (
            (combine(score, context_similarity(context, self._contexts[position])), position)
            for position, score in scores.items()
            if score >= floor and score > 0 and self.pks[position] not in skip
        )
        ranked = sorted(
            ((score, position) for score, position in lifted if score >= threshold),
            key=lambda item: (-item[0], self.pks[item[1]]),
        )

        def explainer(position: int) -> Callable[[], tuple[str, ...]]:
            def explain() -> tuple[str, ...]:
                shared = (
                    (term, weight * self._weight(term, position))
                    for term, weight in query.items()
                    if term in self._postings
                )
                return self._explain(shared, shown) + self._explain_context(context, self._contexts[position])

            return explain

        return [
            Candidate(pk=self.pks[position], score=min(score, 1.0), explain=explainer(position))
            for score, position in ranked
        ]

    def pairs(self, threshold: float = DEFAULT_THRESHOLD) -> list[tuple[int, int, float]]:
        """Every pair of use cases scoring at least ``threshold`` as (lower pk, higher pk, score),
        best first, "not a duplicate" decisions included (callers drop them). Cached per index.

        Each document is scored against the earlier ones through the postings, so each pair is
        scored once. The cost is half the sum of squared posting lengths: about 3 s for 5,000
        synthetic use cases on one core, paid once per index. (The All-Pairs pruning of Bayardo
        et al. was measured too: exact, but slower here, since a common concept such as
        "search" makes every survivor expensive to verify.)
        """
        threshold = round(threshold, 4)
        cached = self._pairs_at.get(threshold)
        if cached is not None:
            return cached
        found: list[tuple[int, int, float]] = []
        floor = _candidate_floor(threshold)
        boost, text_floor = CONTEXT_BOOST, TEXT_FLOOR
        # Contexts repeat (a business unit, a domain, the same people), so the similarity of two
        # is computed once per pair of distinct contexts: most pairs cost one dictionary lookup.
        distinct: dict[Context, int] = {}
        context_ids = [distinct.setdefault(context, len(distinct)) for context in self._contexts]
        by_id = list(distinct)
        lifts: list[dict[int, float]] = [{} for _ in by_id]
        for position in range(1, len(self.pks)):
            scores: dict[int, float] = defaultdict(float)
            for term, weight in zip(self._terms_of[position], self._weights_of[position], strict=True):
                positions, weights = self._postings[term]
                earlier = bisect_left(positions, position)
                for other, other_weight in zip(islice(positions, earlier), weights, strict=False):
                    scores[other] += weight * other_weight
            mine = context_ids[position]
            row, context = lifts[mine], by_id[mine]
            for other, score in scores.items():
                if score >= floor and score > 0:
                    if score >= text_floor and boost:
                        theirs = context_ids[other]
                        lift = row.get(theirs)
                        if lift is None:
                            lift = row[theirs] = boost * context_similarity(context, by_id[theirs])
                        score += lift * (1.0 - score)  # combine(), inlined: this loop is the hot one
                    if score >= threshold:
                        first, second = sorted((self.pks[other], self.pks[position]))
                        found.append((first, second, min(score, 1.0)))
        found.sort(key=lambda pair: (-pair[2], pair[0], pair[1]))
        self._pairs_at[threshold] = found
        return found

    def shared_terms(self, first_pk: int, second_pk: int) -> tuple[str, ...]:
        first, second = self.position_of[first_pk], self.position_of[second_pk]
        common = set(self._terms_of[first]) & set(self._terms_of[second])
        return self._explain(
            ((term, self._weight(term, first) * self._weight(term, second)) for term in common), {}
        ) + self._explain_context(self._contexts[first], self._contexts[second])


#
# The per-process cache
#

_lock = threading.Lock()
# (fingerprint, index), replaced as one tuple so that a reader never pairs one with the other's
# predecessor.
_cached: list[tuple[tuple, DuplicateIndex] | None] = [None]


def _use_case_fingerprint() -> tuple:
    # Count, newest change and newest pk catch creates, deletes and edits made through the services
    # (which stamp updated_at); the summed text length also catches most edits that bypass them
    # (admin, shell), since updated_at is not auto_now.
    return tuple(
        UseCase.objects.order_by()
        .aggregate(
            count=Count("pk"),
            last_update=Max("updated_at"),
            last_pk=Max("pk"),
            text_length=Sum(Length("name") + Length("purpose")),
        )
        .values()
    )


def _context_fingerprint() -> tuple:
    # The data a use case reads comes through its releases' datasets, and texts may name any
    # source of the catalogue: a change to either (new release, dataset source, catalogue entry)
    # must reach the index. One query for the three link tables, as counts and newest ids.
    tables = (
        Release.dataset_versions.through._meta.db_table,
        Dataset.sources.through._meta.db_table,
        DataSource._meta.db_table,
    )
    quote = connection.ops.quote_name
    # Table names from the models, no input: nothing to inject.
    parts = ", ".join(f"(SELECT COUNT(*) FROM {quote(t)}), (SELECT MAX(id) FROM {quote(t)})" for t in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return tuple(cursor.fetchone())


def _linked_data_sources() -> dict[int, set[int]]:
    """Use case pk -> the data sources its releases' datasets come from."""
    linked: dict[int, set[int]] = defaultdict(set)
    rows = (
        Release.dataset_versions.through.objects.filter(datasetversion__dataset__sources__isnull=False)
        .values_list("release__use_case_id", "datasetversion__dataset__sources")
        .distinct()
    )
    for use_case_pk, source_pk in rows.iterator(chunk_size=5000):
        linked[use_case_pk].add(source_pk)
    return linked


def _with_data_sources(rows: Iterable[UseCase], linked: dict[int, set[int]]) -> Iterable[UseCase]:
    for use_case in rows:
        use_case.data_source_ids = linked.get(use_case.pk, ())
        yield use_case


def _not_duplicate_fingerprint() -> tuple:
    return tuple(NotDuplicate.objects.order_by().aggregate(count=Count("pk"), last_pk=Max("pk")).values())


def _not_duplicate_pairs() -> list[tuple[int, int]]:
    return list(NotDuplicate.objects.order_by().values_list("first_id", "second_id"))


def current_index() -> DuplicateIndex:
    """The index of every use case, rebuilt only when the table changed since the last build.

    Two cheap aggregate queries per call. The fingerprint is read before the rows: a write
    landing in between leaves an index newer than its fingerprint, and the next call rebuilds;
    never an index older than it claims. A new "not a duplicate" decision keeps the vectors.
    """
    fingerprint = ((_use_case_fingerprint(), _context_fingerprint()), _not_duplicate_fingerprint())
    cached = _cached[0]
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    with _lock:
        cached = _cached[0]
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None and cached[0][0] == fingerprint[0]:
            index = cached[1].with_not_duplicates(_not_duplicate_pairs())
        else:
            rows = UseCase.objects.order_by("pk").only("pk", "name", "purpose", "tags", "business_unit_id")
            index = DuplicateIndex.build(
                _with_data_sources(rows.iterator(chunk_size=1000), _linked_data_sources()),
                not_duplicates=_not_duplicate_pairs(),
                previous=cached[1] if cached is not None else None,
                data_sources=DataSource.objects.only("pk", "name", "system"),
            )
        _cached[0] = (fingerprint, index)
        return index


def clear_cache() -> None:
    with _lock:
        _cached[0] = None


#
# What people see
#


@dataclass(frozen=True)
class Match:
    use_case: UseCase
    score: float  # 0..1, rounded to 2 decimals for display
    shared_terms: tuple[str, ...]  # the overlapping words that explain the match


@dataclass(frozen=True)
class DuplicatePair:
    first: UseCase
    second: UseCase
    score: float
    shared_terms: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    members: list[UseCase]  # by key
    pairs: list[DuplicatePair]  # best first

    @property
    def top_score(self) -> float:
        return max(pair.score for pair in self.pairs)


def _visible_use_cases(user, pks: Iterable[int]) -> dict[int, UseCase]:
    queryset = UseCase.objects.select_related("owning_team", "lifecycle_stage").filter(pk__in=list(pks))
    return {use_case.pk: use_case for use_case in restrict(queryset, user, Action.VIEW)}


def similar_use_cases(
    *,
    user,
    name: str,
    purpose: str,
    tags: Iterable[str] = (),
    exclude: UseCase | int | None = None,
    limit: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
    business_unit: int | None = None,
) -> list[Match]:
    """Use cases ``user`` may see that look like this text, best first, drafts included.

    ``exclude`` (a use case or its pk) is the use case being edited: it is left out, and so is
    every use case someone marked as not a duplicate of it. ``business_unit`` (a pk: the
    filing team's) counts beside the words, as do the users, domain and data sources the text
    names.
    """
    if limit <= 0:
        return []
    exclude_pk = exclude.pk if isinstance(exclude, UseCase) else exclude
    candidates = current_index().search(
        name=(name or "")[:NAME_MAX_CHARS],
        purpose=(purpose or "")[:QUERY_MAX_CHARS],
        tags=tags,
        threshold=threshold,
        exclude_pk=exclude_pk,
        business_unit=business_unit,
    )
    matches: list[Match] = []
    # Ask for a few more than the limit: some candidates may be hidden from this person.
    batch = max(4 * limit, 50)
    for start in range(0, len(candidates), batch):
        chunk = candidates[start : start + batch]
        visible = _visible_use_cases(user, (candidate.pk for candidate in chunk))
        for candidate in chunk:
            use_case = visible.get(candidate.pk)
            if use_case is not None:
                matches.append(Match(use_case, round(candidate.score, 2), candidate.shared_terms))
                if len(matches) == limit:
                    return matches
    return matches


def duplicate_clusters(*, user, threshold: float = DEFAULT_THRESHOLD) -> list[Cluster]:
    """Groups of likely duplicates among the use cases ``user`` may see, biggest first.

    A cluster is a connected component of the pairs scoring at least ``threshold``, minus pairs
    marked as not duplicates. Components are formed only from visible use cases, so a hidden one
    never links (and so never reveals itself through) two visible ones.
    """
    index = current_index()
    pairs = [pair for pair in index.pairs(threshold) if not index.is_not_duplicate(pair[0], pair[1])]
    visible = _visible_use_cases(user, {pk for pair in pairs for pk in pair[:2]})
    pairs = [pair for pair in pairs if pair[0] in visible and pair[1] in visible]

    parent: dict[int, int] = {}

    def root(pk: int) -> int:
        parent.setdefault(pk, pk)
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    for first, second, _score in pairs:
        parent[root(first)] = root(second)
    grouped: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for pair in pairs:
        grouped[root(pair[0])].append(pair)

    clusters = []
    for group in grouped.values():
        members = sorted(
            {visible[pk] for pair in group for pk in pair[:2]}, key=lambda use_case: use_case.key
        )
        clusters.append(
            Cluster(
                members=members,
                pairs=[
                    DuplicatePair(
                        visible[first], visible[second], round(score, 2), index.shared_terms(first, second)
                    )
                    for first, second, score in group
                ],
            )
        )
    clusters.sort(key=lambda cluster: (-len(cluster.members), -cluster.top_score, cluster.members[0].key))
    return clusters
