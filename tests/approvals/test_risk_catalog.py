"""The questionnaire and the classification rules (approvals.catalogs.risk), without a database."""

import pytest
from django.core.exceptions import ValidationError

from approvals.catalogs import risk as risk_catalog
from approvals.catalogs.risk import ANNEX_III_AREAS, PROHIBITED_PRACTICES, classify, clean_answers
from inventory.choices import RiskTierChoices


def classified(**answers):
    return classify(clean_answers({"role": "provider", **answers}))


def references(items) -> list[str]:
    return [item["reference"] for item in items]


def test_the_catalog_declares_the_practices_areas_and_risks_once():
    data = risk_catalog.catalog_as_data()
    questions = [question for section in data["sections"] for question in section["questions"]]
    assert data["version"] == risk_catalog.CATALOG_VERSION
    assert len(questions) == len(risk_catalog.QUESTIONS)
    assert all(question["text"] and question["help"] and question["reference"] for question in questions)
    assert [option.reference for option in PROHIBITED_PRACTICES] == [
        f"Art 5(1)({letter})" for letter in "abcdefgh"
    ]
    assert {option.reference.removeprefix("Annex III point ")[0] for option in ANNEX_III_AREAS} == set(
        "12345678"
    )
    assert [option.reference for option in risk_catalog.GENAI_RISKS] == [f"GAI-2.{n}" for n in range(1, 13)]


@pytest.mark.parametrize("practice", PROHIBITED_PRACTICES, ids=lambda option: option.value)
def test_any_art5_practice_makes_it_prohibited(practice):
    result = classified(prohibited_practices=[practice.value])
    assert result.tier == RiskTierChoices.PROHIBITED
    assert practice.reference in references(result.reasons)
    assert references(result.duties) == ["Art 5"]


def test_prohibited_wins_over_every_other_route():
    result = classified(
        prohibited_practices=["social_scoring"],
        annex_iii_areas=["employment"],
        interacts_with_people=True,
        is_gpai=True,
    )
    assert result.tier == RiskTierChoices.PROHIBITED
    assert "Art 50(1)" not in references(result.reasons)


def test_an_annex_i_product_needing_third_party_conformity_is_high_risk():
    result = classified(annex_i_product=True, annex_i_third_party_conformity=True)
    assert result.tier == RiskTierChoices.HIGH
    assert references(result.reasons) == ["Art 6(1), Annex I"]
    assert {"Art 9", "Art 11", "Art 17"} <= set(references(result.duties))


def test_an_annex_i_product_without_third_party_conformity_is_not_high_risk_and_says_why():
    result = classified(annex_i_product=True)
    assert result.tier == RiskTierChoices.MINIMAL
    assert "Art 6(1)(b)" in references(result.reasons)


@pytest.mark.parametrize("area", ANNEX_III_AREAS, ids=lambda option: option.value)
def test_every_annex_iii_area_makes_it_high_risk(area):
    result = classified(annex_iii_areas=[area.value])
    assert result.tier == RiskTierChoices.HIGH
    assert area.reference in result.reasons[0]["text"]


def test_the_derogation_applies_with_a_rationale_and_no_profiling():
    result = classified(
        annex_iii_areas=["employment"],
        derogation_conditions=["preparatory_task"],
        derogation_rationale="It only sorts CVs by the language they are written in; people decide.",
    )
    assert result.tier == RiskTierChoices.MINIMAL
    assert result.derogation_applied
    assert "Art 6(3)" in references(result.reasons)
    assert "Art 6(4), Art 49(2)" in references(result.duties)  # document and register


def test_the_derogation_is_refused_when_the_system_profiles_people():
    result = classified(
        annex_iii_areas=["creditworthiness"],
        profiles_natural_persons=True,
        derogation_conditions=["narrow_procedural_task"],
        derogation_rationale="Only a narrow task.",
    )
    assert result.tier == RiskTierChoices.HIGH
    assert not result.derogation_applied
    texts = " ".join(reason["text"] for reason in result.reasons)
    assert "profiles natural persons, so it is always high-risk" in texts
    assert "rationale was set aside" in texts


def test_a_derogation_without_rationale_is_refused_with_a_message_naming_the_question():
    with pytest.raises(ValidationError) as error:
        clean_answers(
            {
                "role": "provider",
                "annex_iii_areas": ["education"],
                "derogation_conditions": ["detects_patterns"],
            }
        )
    assert "derogation_rationale" in error.value.message_dict
    assert "(derogation_rationale) is required" in error.value.message_dict["derogation_rationale"][0]
    # classify() alone never applies a derogation without a rationale either.
    answers = clean_answers({"role": "provider", "annex_iii_areas": ["education"]})
    result = classify({**answers, "derogation_conditions": ["detects_patterns"]})
    assert result.tier == RiskTierChoices.HIGH and not result.derogation_applied


def test_a_derogation_needs_an_annex_iii_area():
    with pytest.raises(ValidationError) as error:
        clean_answers(
            {"role": "provider", "derogation_conditions": ["preparatory_task"], "derogation_rationale": "x"}
        )
    assert (
        "only applies to a system in an Annex III area"
        in error.value.message_dict["derogation_conditions"][0]
    )


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("interacts_with_people", "Art 50(1)"),
        ("generates_synthetic_content", "Art 50(2)"),
        ("emotion_or_biometric_categorisation", "Art 50(3)"),
        ("deep_fake_or_public_text", "Art 50(4)"),
    ],
)
def test_each_transparency_trigger_makes_it_limited_with_its_duty(answer, reference):
    result = classify(clean_answers({"role": "both", answer: True}))
    assert result.tier == RiskTierChoices.LIMITED
    assert reference in references(result.reasons)
    assert reference in references(result.duties)


def test_transparency_duties_apply_on_top_of_high_risk():
    result = classified(annex_iii_areas=["education"], generates_synthetic_content=True)
    assert result.tier == RiskTierChoices.HIGH
    assert "Art 50(2)" in references(result.duties)


def test_a_duty_that_falls_on_the_other_role_is_a_check_on_them():
    result = classified(deep_fake_or_public_text=True)  # a provider; Art 50(4) binds deployers
    duty = next(duty for duty in result.duties if duty["reference"] == "Art 50(4)")
    assert duty["duty"].startswith("Check that the deployer does this")


def test_nothing_ticked_is_minimal_with_a_reason_and_ai_literacy():
    result = classified()
    assert result.tier == RiskTierChoices.MINIMAL
    assert result.reasons and "minimal risk" in result.reasons[0]["text"]
    assert references(result.duties) == ["Art 4", "Art 95"]


def test_a_gpai_provider_gets_the_model_duties_and_systemic_risk_adds_more():
    plain = classified(is_gpai=True)
    assert {"Art 53(1)(a)", "Art 53(1)(b)", "Art 53(1)(c)", "Art 53(1)(d)"} <= set(references(plain.duties))
    assert "Art 55(1)" not in references(plain.duties)
    systemic = classified(is_gpai=True, gpai_systemic_risk=True)
    assert {"Art 52", "Art 55(1)"} <= set(references(systemic.duties))


def test_systemic_risk_without_a_gpai_model_is_a_clear_error():
    with pytest.raises(ValidationError) as error:
        clean_answers({"role": "provider", "gpai_systemic_risk": True})
    assert "(gpai_systemic_risk)" in error.value.message_dict["gpai_systemic_risk"][0]


def test_providers_and_deployers_get_their_own_high_risk_duties():
    provider = classify(clean_answers({"role": "provider", "annex_iii_areas": ["employment"]}))
    deployer = classify(clean_answers({"role": "deployer", "annex_iii_areas": ["employment"]}))
    both = classify(clean_answers({"role": "both", "annex_iii_areas": ["employment"]}))
    assert "Art 9" in references(provider.duties) and "Art 26(6)" not in references(provider.duties)
    assert "Art 26(6)" in references(deployer.duties) and "Art 9" not in references(deployer.duties)
    assert {"Art 9", "Art 26(6)"} <= set(references(both.duties))
    assert {duty["role"] for duty in deployer.duties if duty["reference"].startswith("Art 26")} == {
        "deployer"
    }


@pytest.mark.parametrize(
    ("answers", "fria"),
    [
        ({"role": "deployer", "annex_iii_areas": ["creditworthiness"]}, True),
        ({"role": "deployer", "annex_iii_areas": ["life_health_insurance"]}, True),
        ({"role": "deployer", "annex_iii_areas": ["education"], "public_service": True}, True),
        ({"role": "deployer", "annex_iii_areas": ["critical_infrastructure"], "public_service": True}, False),
        ({"role": "deployer", "annex_iii_areas": ["employment"]}, False),
        ({"role": "provider", "annex_iii_areas": ["creditworthiness"]}, False),
    ],
)
def test_the_fundamental_rights_impact_assessment_follows_art_27(answers, fria):
    assert ("Art 27" in references(classify(clean_answers(answers)).duties)) is fria


def test_genai_risks_are_stored_in_catalog_order_without_repeats():
    cleaned = clean_answers({"role": "deployer", "genai_risks": ["value_chain", "cbrn", "cbrn"]})
    assert cleaned["genai_risks"] == ["cbrn", "value_chain"]


@pytest.mark.parametrize(
    ("answers", "question", "message"),
    [
        ({}, "role", "(role) needs an answer: one of provider, deployer, both"),
        ({"role": "vendor"}, "role", "'vendor' is not an option"),
        ({"role": "provider", "is_gpai": "yes"}, "is_gpai", "takes true or false"),
        ({"role": "provider", "genai_risks": "cbrn"}, "genai_risks", "takes a list of options"),
        (
            {"role": "provider", "genai_risks": ["hallucination"]},
            "genai_risks",
            "'hallucination' is not an option",
        ),
        ({"role": "provider", "colour": "blue"}, "colour", "“colour” is not a question"),
        ({"role": "provider", "derogation_rationale": 42}, "derogation_rationale", "takes text"),
    ],
)
def test_bad_answers_name_the_question(answers, question, message):
    with pytest.raises(ValidationError) as error:
        clean_answers(answers)
    assert message in " ".join(error.value.message_dict[question])


def test_answers_must_be_an_object():
    with pytest.raises(ValidationError, match="keyed by question id"):
        clean_answers(["provider"])
