"""Duplicate detection: one effort told in different words is caught, unrelated efforts are not,
and nobody learns of a use case they may not see."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.choices import AIKindChoices, DataSensitivityChoices, VisibilityChoices
from inventory.selectors import duplicates
from inventory.selectors.duplicates import (
    DEFAULT_THRESHOLD,
    DuplicateIndex,
    current_index,
    duplicate_clusters,
    similar_use_cases,
    terms,
)
from inventory.services.usecases import mark_not_duplicate, usecase_create, usecase_update
from inventory.testing import TeamFactory
from portal.roles import Role

pytestmark = pytest.mark.django_db

# A realistic portfolio: three teams each filed "search over our internal documents" in their
# own words, two finance teams both capture supplier invoices, and the rest are unrelated,
# including near misses (a customer chatbot that also answers questions, two summarisers, two
# predictors, two things about invoices). The threshold in inventory/selectors/duplicates.py was measured
# on exactly this set.
PORTFOLIO = {
    "knowledge-assistant": ("Knowledge assistant", "Answer employee questions from Confluence and the policy wiki, with links to the source pages.", ["knowledge", "llm"]),
    "enterprise-search": ("Enterprise search", "Retrieval-augmented Q&A over intranet documentation for every department.", ["rag", "search"]),
    "docfinder": ("DocFinder", "Let staff find internal documents with natural-language queries instead of browsing shared folders.", ["nlp"]),
    "ticket-routing": ("Support ticket routing", "Classify incoming support tickets by topic and urgency and route them to the right queue.", ["support", "nlp"]),
    "invoice-fraud": ("Invoice fraud scoring", "Score supplier invoices for fraud risk before payment is released and flag anomalies to finance controllers.", ["finance", "fraud"]),
    "demand-forecast": ("Warehouse demand forecasting", "Predict weekly demand per SKU for each warehouse to plan replenishment and shift staffing.", ["supply-chain", "forecasting"]),
    "contract-summaries": ("Contract clause summarisation", "Summarise liability, termination and renewal clauses in supplier contracts for the legal team.", ["legal", "llm"]),
    "cv-screening": ("CV screening", "Rank job applicants' CVs against the requirements of the role for recruiters.", ["hr", "recruiting"]),
    "support-chatbot": ("Customer support chatbot", "A chatbot on the website that answers customer questions about orders, deliveries and returns.", ["support", "customer"]),
    "meeting-digest": ("Meeting digest", "Summarise Teams meeting transcripts into a digest with decisions and action items.", ["productivity", "llm"]),
    "product-translation": ("Product description translation", "Translate product descriptions and marketing copy into twelve languages for the web shop.", ["marketing", "localization"]),
    "churn-prediction": ("Churn prediction", "Predict which subscribers are likely to cancel in the next 90 days so that retention can call them.", ["crm"]),
    "code-assistant": ("Code assistant", "A copilot for developers that suggests code and explains our internal APIs.", ["engineering", "llm"]),
    "invoice-capture": ("Invoice capture", "Extract line items, totals and VAT from scanned supplier invoices into the ERP.", ["finance", "ocr"]),
    "ap-automation": ("AP automation", "Read vendor bills arriving by email and capture amounts, due dates and PO numbers for accounts payable.", ["finance", "automation"]),
}  # fmt: skip
DOCUMENT_SEARCH = {"knowledge-assistant", "enterprise-search", "docfinder"}
INVOICE_CAPTURE = {"invoice-capture", "ap-automation"}
DUPLICATE_PAIRS = {
    frozenset({"knowledge-assistant", "enterprise-search"}),
    frozenset({"knowledge-assistant", "docfinder"}),
    frozenset({"enterprise-search", "docfinder"}),
    frozenset(INVOICE_CAPTURE),
}
# Who filed what: the three search efforts come from three different teams.
TEAM_OF = {
    "knowledge-assistant": "people",
    "enterprise-search": "platform",
    "docfinder": "legal",
    "contract-summaries": "legal",
    "cv-screening": "people",
    "invoice-fraud": "finance",
    "invoice-capture": "finance",
    "ap-automation": "shared-services",
}


@pytest.fixture(autouse=True)
def _fresh_index():
    # The index is a per-process cache; each test starts from its own database.
    duplicates.clear_cache()
    yield
    duplicates.clear_cache()


@pytest.fixture
def teams(make_user):
    def team(slug):
        lead = make_user(f"{slug}-lead", Role.TEAM_LEAD, Role.TEAM_MEMBER)
        return TeamFactory(name=slug.replace("-", " ").title(), slug=slug, lead=lead)

    return {slug: team(slug) for slug in ("people", "platform", "legal", "finance", "shared-services", "ops")}


def file_use_case(team, name, purpose, tags=(), **optional):
    return usecase_create(
        actor=team.lead,
        name=name,
        purpose=purpose,
        owning_team=team,
        accountable_owner=team.lead,
        ai_kind=AIKindChoices.GENERATIVE,
        data_sensitivity=DataSensitivityChoices.INTERNAL,
        tags=list(tags),
        **optional,
    )


@pytest.fixture
def portfolio(teams):
    """The labelled portfolio; some are submitted, the rest stay drafts (drafts count too)."""
    filed = {}
    for number, (key, (name, purpose, tags)) in enumerate(PORTFOLIO.items()):
        team = teams[TEAM_OF.get(key, "ops")]
        filed[key] = file_use_case(team, name, purpose, tags, submit=number % 2 == 0)
    return filed


@pytest.fixture
def viewer(make_user):
    """A team member outside every team above: sees every normal use case, no restricted one."""
    return make_user("priya", Role.TEAM_MEMBER)


def keys_of(use_cases, portfolio):
    by_pk = {use_case.pk: key for key, use_case in portfolio.items()}
    return {by_pk[use_case.pk] for use_case in use_cases}


def similar_to(key, portfolio, user, **options):
    name, purpose, tags = PORTFOLIO[key]
    return similar_use_cases(
        user=user, name=name, purpose=purpose, tags=tags, exclude=portfolio[key], **options
    )


#
# What is caught and what is not
#


def test_three_teams_searching_internal_documents_are_caught_and_nothing_else(portfolio, viewer):
    clusters = duplicate_clusters(user=viewer)

    found_pairs = {
        frozenset(keys_of([pair.first, pair.second], portfolio))
        for cluster in clusters
        for pair in cluster.pairs
    }
    assert found_pairs == DUPLICATE_PAIRS
    assert [keys_of(cluster.members, portfolio) for cluster in clusters] == [DOCUMENT_SEARCH, INVOICE_CAPTURE]
    assert all(pair.score >= DEFAULT_THRESHOLD for cluster in clusters for pair in cluster.pairs)


@pytest.mark.parametrize("key", sorted(DOCUMENT_SEARCH))
def test_each_search_effort_finds_the_other_two(portfolio, viewer, key):
    matches = similar_to(key, portfolio, viewer)

    assert keys_of([match.use_case for match in matches], portfolio) == DOCUMENT_SEARCH - {key}


@pytest.mark.parametrize("key", sorted(set(PORTFOLIO) - DOCUMENT_SEARCH - INVOICE_CAPTURE))
def test_unrelated_use_cases_match_nothing(portfolio, viewer, key):
    assert similar_to(key, portfolio, viewer) == []


def test_a_fourth_team_typing_its_intake_form_is_warned(portfolio, viewer):
    matches = similar_use_cases(
        user=viewer,
        name="Policy Q&A bot",
        purpose="Ask questions about HR policies and the employee handbook on the intranet.",
        tags=["hr"],
    )

    assert keys_of([match.use_case for match in matches], portfolio) == DOCUMENT_SEARCH


@pytest.mark.parametrize(
    ("paraphrases", "concept"),
    [
        (
            [
                "Confluence",
                "the policy wiki",
                "intranet documentation",
                "internal documents",
                "knowledge base",
            ],
            "documents",
        ),
        (["find", "lookup", "retrieval-augmented", "Q&A", "question answering", "queries", "RAG"], "search"),
        (["chatbot", "assistant", "copilot", "HRBot"], "chatbot"),
        (["tickets", "support request", "cases"], "ticket"),
        (["summarise", "summarization", "summaries", "digest"], "summary"),
        (["forecasting", "predicted", "projections"], "forecast"),
        (["invoices", "bills", "accounts payable"], "invoice"),
    ],
)
def test_paraphrases_meet_on_one_concept(paraphrases, concept):
    for paraphrase in paraphrases:
        assert concept in {term for term, _word in terms(paraphrase)}, paraphrase


def test_use_case_is_filler_not_a_support_case():
    assert [term for term, _word in terms("A use case for our staff")] == ["employee"]


#
# Scores and explanations
#


def test_scores_are_sorted_between_zero_and_one_and_the_limit_holds(portfolio, viewer):
    everything = similar_to("knowledge-assistant", portfolio, viewer, threshold=0.01, limit=50)
    top_two = similar_to("knowledge-assistant", portfolio, viewer, threshold=0.01, limit=2)

    scores = [match.score for match in everything]
    assert len(everything) >= 4
    assert all(0 < score <= 1 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert top_two == everything[:2]
    assert similar_to("knowledge-assistant", portfolio, viewer, limit=0) == []


def test_the_same_text_scores_one(portfolio, viewer):
    name, purpose, tags = PORTFOLIO["invoice-fraud"]

    best = similar_use_cases(user=viewer, name=name, purpose=purpose, tags=tags)[0]

    assert best.use_case == portfolio["invoice-fraud"]
    assert best.score == 1.0


def test_shared_terms_explain_the_match(portfolio, viewer):
    matches = {match.use_case.pk: match for match in similar_to("docfinder", portfolio, viewer)}
    knowledge_assistant = matches[portfolio["knowledge-assistant"].pk]

    assert {"documents", "search"} <= set(knowledge_assistant.shared_terms)
    assert knowledge_assistant.score == round(knowledge_assistant.score, 2)
    pair = duplicate_clusters(user=viewer)[1].pairs[0]
    assert {"invoice", "extraction"} <= set(pair.shared_terms)


def test_the_index_works_on_plain_objects_without_a_database():
    use_cases = [
        SimpleNamespace(pk=pk, name=name, purpose=purpose, tags=tags)
        for pk, (name, purpose, tags) in enumerate(PORTFOLIO.values(), start=1)
    ]
    index = DuplicateIndex.build(use_cases)

    by_pk = dict(enumerate(PORTFOLIO, start=1))
    assert {frozenset({by_pk[first], by_pk[second]}) for first, second, _ in index.pairs()} == DUPLICATE_PAIRS
    assert len(index) == len(PORTFOLIO)


#
# Permissions
#


@pytest.fixture
def restricted_search(teams):
    """Another team's restricted effort, worded like the knowledge assistant."""
    name, purpose, tags = PORTFOLIO["knowledge-assistant"]
    return file_use_case(teams["finance"], name, purpose, tags, visibility=VisibilityChoices.RESTRICTED)


def test_a_restricted_use_case_never_reaches_a_team_member_of_another_team(
    portfolio, restricted_search, viewer, teams
):
    name, purpose, tags = PORTFOLIO["knowledge-assistant"]
    outsider = teams["people"].lead  # a team lead and member, but not of finance

    for person in (viewer, outsider):
        found = similar_use_cases(
            user=person, name=name, purpose=purpose, tags=tags, threshold=0.01, limit=50
        )
        assert restricted_search not in [match.use_case for match in found]
        clusters = duplicate_clusters(user=person)
        assert restricted_search not in [member for cluster in clusters for member in cluster.members]


def test_a_restricted_use_case_reaches_its_own_team_and_an_executive(
    portfolio, restricted_search, executive, teams
):
    name, purpose, tags = PORTFOLIO["knowledge-assistant"]

    for person in (executive, teams["finance"].lead):
        best = similar_use_cases(
            user=person, name=name, purpose=purpose, tags=tags, exclude=portfolio["knowledge-assistant"]
        )[0]
        assert (best.use_case, best.score) == (restricted_search, 1.0)
        assert restricted_search in duplicate_clusters(user=person)[0].members


def test_a_hidden_use_case_does_not_link_two_visible_ones(teams, viewer, executive):
    invoices = file_use_case(teams["finance"], *PORTFOLIO["invoice-capture"])
    search = file_use_case(teams["platform"], *PORTFOLIO["enterprise-search"])
    # Restricted, and like both: for an executive it joins them into one cluster.
    hidden = file_use_case(
        teams["legal"],
        "Invoice capture and enterprise search",
        f"{PORTFOLIO['invoice-capture'][1]} {PORTFOLIO['enterprise-search'][1]}",
        ["finance", "ocr", "rag", "search"],
        visibility=VisibilityChoices.RESTRICTED,
    )
    name, purpose, tags = PORTFOLIO["invoice-capture"]

    assert duplicate_clusters(user=viewer) == []
    assert similar_use_cases(user=viewer, name=name, purpose=purpose, tags=tags, exclude=invoices) == []
    [cluster] = duplicate_clusters(user=executive)
    assert set(cluster.members) == {invoices, search, hidden}


def test_anonymous_people_see_nothing(portfolio):
    from django.contrib.auth.models import AnonymousUser

    name, purpose, tags = PORTFOLIO["docfinder"]
    assert similar_use_cases(user=AnonymousUser(), name=name, purpose=purpose, tags=tags) == []
    assert duplicate_clusters(user=AnonymousUser()) == []


#
# "Not a duplicate"
#


def test_a_pair_marked_not_duplicate_is_never_reported(portfolio, viewer):
    mark_not_duplicate(
        first=portfolio["docfinder"], second=portfolio["knowledge-assistant"], actor=viewer, reason="HR only"
    )
    mark_not_duplicate(first=portfolio["ap-automation"], second=portfolio["invoice-capture"], actor=viewer)

    assert keys_of([m.use_case for m in similar_to("knowledge-assistant", portfolio, viewer)], portfolio) == {
        "enterprise-search"
    }
    assert keys_of([m.use_case for m in similar_to("docfinder", portfolio, viewer)], portfolio) == {
        "enterprise-search"
    }
    [cluster] = duplicate_clusters(user=viewer)  # the invoice pair is gone
    assert keys_of(cluster.members, portfolio) == DOCUMENT_SEARCH  # still linked through enterprise search
    assert {frozenset(keys_of([pair.first, pair.second], portfolio)) for pair in cluster.pairs} == {
        frozenset({"knowledge-assistant", "enterprise-search"}),
        frozenset({"enterprise-search", "docfinder"}),
    }


def test_a_new_text_still_sees_both_sides_of_a_marked_pair(portfolio, viewer):
    mark_not_duplicate(first=portfolio["docfinder"], second=portfolio["knowledge-assistant"], actor=viewer)
    name, purpose, tags = PORTFOLIO["docfinder"]

    found = similar_use_cases(user=viewer, name=f"{name} 2", purpose=purpose, tags=tags)

    assert keys_of([match.use_case for match in found], portfolio) == DOCUMENT_SEARCH


#
# The cache
#


def test_the_index_is_built_once_and_rebuilt_when_the_portfolio_changes(portfolio, viewer, teams):
    builds = DuplicateIndex.build_count
    similar_to("docfinder", portfolio, viewer)
    first = current_index()
    similar_to("docfinder", portfolio, viewer)
    duplicate_clusters(user=viewer)
    assert DuplicateIndex.build_count == builds + 1
    assert current_index() is first

    newcomer = file_use_case(
        teams["ops"], "Intranet answers", "Staff ask questions and get answers from the intranet wiki."
    )
    assert newcomer in [match.use_case for match in similar_to("docfinder", portfolio, viewer)]
    assert DuplicateIndex.build_count == builds + 2

    usecase_update(
        use_case=newcomer,
        actor=teams["ops"].lead,
        name="Parcel volumes",
        purpose="Forecast parcels per depot.",
    )
    assert newcomer not in [match.use_case for match in similar_to("docfinder", portfolio, viewer)]
    assert DuplicateIndex.build_count == builds + 3


def test_marking_a_pair_refreshes_the_index_without_rebuilding_its_vectors(portfolio, viewer):
    similar_to("docfinder", portfolio, viewer)
    before, builds = current_index(), DuplicateIndex.build_count

    mark_not_duplicate(first=portfolio["docfinder"], second=portfolio["enterprise-search"], actor=viewer)

    assert portfolio["enterprise-search"] not in [
        m.use_case for m in similar_to("docfinder", portfolio, viewer)
    ]
    assert current_index() is not before
    assert DuplicateIndex.build_count == builds


def test_a_warm_duplicate_check_costs_a_few_queries_whatever_the_portfolio_size(
    portfolio, viewer, teams, django_assert_max_num_queries
):
    def check():
        # Today 5: the two fingerprint aggregates, restrict()'s two grant checks, the one select.
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(6):
            matches = similar_to("docfinder", portfolio, viewer)
        return len(queries), matches

    similar_to("docfinder", portfolio, viewer)  # warm: the index is built once
    small_count, small_matches = check()
    for number in range(30):
        file_use_case(
            teams["ops"],
            f"Document search {number}",
            "Staff find internal documents and answers on the intranet wiki.",
        )
    similar_to("docfinder", portfolio, viewer)  # the new use cases rebuild the index once
    large_count, large_matches = check()

    assert len(small_matches) == 2 and len(large_matches) == 5
    assert large_count == small_count
