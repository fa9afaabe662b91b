"""The EU AI Act risk classification: the intake questionnaire, declared once as data, and
:func:`classify`, which turns a set of answers into a tier with the reasons and the duties.

The legal texts are paraphrased (see the shared reference "frameworks-and-rubrics" §1). The
Commission may amend Annex III by delegated act (Art 7), so the questionnaire carries a
version that every assessment records.

Answers are a dict keyed by question id. :func:`clean_answers` checks them against the catalog
and fills in what was left out (``False`` for yes/no questions, an empty list for "choose any",
an empty text); :func:`classify` is pure and expects cleaned answers.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from approvals.choices import AIActRoleChoices
from inventory.choices import RiskTierChoices

CATALOG_VERSION = "2026-11"

YES_NO = "yes_no"
ONE_OF = "one_of"
ANY_OF = "any_of"
TEXT = "text"

TEXT_MAX_LENGTH = 5000


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    reference: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    text: str
    help: str
    reference: str
    kind: str
    options: tuple[Option, ...] = ()
    required: bool = False

    def option(self, value: str) -> Option | None:
        return next((option for option in self.options if option.value == value), None)

    @property
    def values(self) -> list[str]:
        return [option.value for option in self.options]


SECTIONS = (
    ("role", "Your role and the model"),
    ("prohibited", "Prohibited practices"),
    ("high_risk", "High-risk routes"),
    ("transparency", "Transparency"),
    ("genai", "Generative AI risks"),
)

PROHIBITED_PRACTICES = (
    Option(
        "manipulation",
        "Subliminal, manipulative or deceptive techniques that materially distort people's behaviour "
        "and cause, or are likely to cause, significant harm",
        "Art 5(1)(a)",
    ),
    Option(
        "exploiting_vulnerabilities",
        "Exploiting vulnerabilities due to age, disability or a social or economic situation, "
        "causing significant harm",
        "Art 5(1)(b)",
    ),
    Option(
        "social_scoring",
        "Social scoring that leads to unjustified or disproportionate detrimental treatment",
        "Art 5(1)(c)",
    ),
    Option(
        "crime_prediction_by_profiling",
        "Predicting that a person will commit a crime based solely on profiling or personality traits",
        "Art 5(1)(d)",
    ),
    Option(
        "untargeted_face_scraping",
        "Untargeted scraping of facial images from the internet or CCTV to build face-recognition databases",
        "Art 5(1)(e)",
    ),
    Option(
        "emotion_recognition_work_education",
        "Recognising emotions of people at work or in education (other than for medical or safety reasons)",
        "Art 5(1)(f)",
    ),
    Option(
        "biometric_categorisation_sensitive",
        "Biometric categorisation to infer race, political opinions, union membership, religious or "
        "philosophical beliefs, sex life or sexual orientation",
        "Art 5(1)(g)",
    ),
    Option(
        "realtime_remote_biometric_id_law_enforcement",
        "Real-time remote biometric identification in publicly accessible spaces for law enforcement "
        "(outside the narrow exceptions)",
        "Art 5(1)(h)",
    ),
)

ANNEX_III_AREAS = (
    Option(
        "biometrics",
        "Biometrics: remote identification (not 1:1 verification), categorisation by sensitive "
        "attributes, emotion recognition",
        "Annex III point 1",
    ),
    Option(
        "critical_infrastructure",
        "Critical infrastructure: a safety component in critical digital infrastructure, road traffic, "
        "or the supply of water, gas, heating or electricity",
        "Annex III point 2",
    ),
    Option(
        "education",
        "Education and vocational training: admission or assignment, evaluating learning outcomes, "
        "choosing the level of education, monitoring tests",
        "Annex III point 3",
    ),
    Option(
        "employment",
        "Employment and workers management: recruitment and selection, decisions on promotion, "
        "termination or task allocation, monitoring performance",
        "Annex III point 4",
    ),
    Option(
        "essential_services",
        "Essential public services and benefits: eligibility for benefits or services (healthcare "
        "included), classifying emergency calls, dispatch or patient triage",
        "Annex III point 5(a), 5(d)",
    ),
    Option(
        "creditworthiness",
        "Creditworthiness or credit scoring of natural persons (fraud detection excluded)",
        "Annex III point 5(b)",
    ),
    Option(
        "life_health_insurance",
        "Risk assessment and pricing for natural persons in life and health insurance",
        "Annex III point 5(c)",
    ),
    Option(
        "law_enforcement",
        "Law enforcement: victim risk, polygraph-like tools, reliability of evidence, risk of "
        "(re-)offending, profiling in investigations",
        "Annex III point 6",
    ),
    Option(
        "migration",
        "Migration, asylum and border control: polygraph-like tools, risk assessment, examining "
        "applications, identifying people",
        "Annex III point 7",
    ),
    Option(
        "justice_democracy",
        "Administration of justice and democratic processes: assisting judges or dispute resolution, "
        "influencing elections or voting behaviour",
        "Annex III point 8",
    ),
)

DEROGATION_CONDITIONS = (
    Option("narrow_procedural_task", "It only performs a narrow procedural task", "Art 6(3)(a)"),
    Option(
        "improves_human_result",
        "It only improves the result of an activity a person has already completed",
        "Art 6(3)(b)",
    ),
    Option(
        "detects_patterns",
        "It only detects decision patterns or deviations from them, without replacing or influencing "
        "the human assessment made before, absent proper human review",
        "Art 6(3)(c)",
    ),
    Option(
        "preparatory_task", "It only performs a task preparatory to an Annex III assessment", "Art 6(3)(d)"
    ),
)

GENAI_RISKS = (
    Option("cbrn", "CBRN information or capabilities", "GAI-2.1"),
    Option("confabulation", "Confabulation (confidently stated false content)", "GAI-2.2"),
    Option("dangerous_content", "Dangerous, violent or hateful content", "GAI-2.3"),
    Option("data_privacy", "Data privacy", "GAI-2.4"),
    Option("environmental", "Environmental impacts", "GAI-2.5"),
    Option("harmful_bias", "Harmful bias and homogenization", "GAI-2.6"),
    Option("human_ai_configuration", "Human-AI configuration (over-reliance, automation bias)", "GAI-2.7"),
    Option("information_integrity", "Information integrity", "GAI-2.8"),
    Option("information_security", "Information security", "GAI-2.9"),
    Option("intellectual_property", "Intellectual property", "GAI-2.10"),
    Option("obscene_content", "Obscene, degrading or abusive content", "GAI-2.11"),
    Option("value_chain", "Value chain and component integration", "GAI-2.12"),
)

QUESTIONS = (
    Question(
        "role",
        "role",
        "What is your organisation's role for this system?",
        "The provider develops the system (or has it developed) and places it on the market or puts it "
        "into service under its own name; the deployer uses it under its authority. Building a system "
        "for your own use makes you both.",
        "Art 3(3), Art 3(4)",
        ONE_OF,
        tuple(Option(value, label) for value, label in AIActRoleChoices),
        required=True,
    ),
    Question(
        "is_gpai",
        "role",
        "Does your organisation provide a general-purpose AI model as part of it?",
        "A model trained on broad data that competently performs a wide range of distinct tasks and can "
        "be integrated into many downstream systems (for example a large language model you train or "
        "fine-tune and make available). Using someone else's model through an API: answer no, and say "
        "deployer or provider of the system above.",
        "Art 3(63), Arts 51-55",
        YES_NO,
    ),
    Question(
        "gpai_systemic_risk",
        "role",
        "Does that general-purpose model have systemic risk?",
        "Presumed when training used more than 10^25 floating-point operations, or when the Commission "
        "designates the model. Only asked if you provide a general-purpose model.",
        "Art 51, Art 55",
        YES_NO,
    ),
    Question(
        "prohibited_practices",
        "prohibited",
        "Does the system do any of the following?",
        "Tick every practice that applies. Any one of them means the system may not be placed on the "
        "market, put into service or used in the EU.",
        "Art 5(1)(a)-(h)",
        ANY_OF,
        PROHIBITED_PRACTICES,
    ),
    Question(
        "annex_i_product",
        "high_risk",
        "Is the system a product, or a safety component of a product, covered by the EU product-safety "
        "law listed in Annex I?",
        "For example machinery, toys, lifts, radio equipment, medical devices and in-vitro diagnostics, "
        "vehicles, aviation, marine equipment or rail.",
        "Art 6(1), Annex I",
        YES_NO,
    ),
    Question(
        "annex_i_third_party_conformity",
        "high_risk",
        "Must that product undergo a third-party conformity assessment under that law?",
        "Only asked for Annex I products: the product route makes the system high-risk only when a "
        "notified body has to assess the product.",
        "Art 6(1)(b)",
        YES_NO,
    ),
    Question(
        "annex_iii_areas",
        "high_risk",
        "Is the system intended to be used in any of these areas?",
        "Tick every area its intended purpose falls in.",
        "Art 6(2), Annex III",
        ANY_OF,
        ANNEX_III_AREAS,
    ),
    Question(
        "profiles_natural_persons",
        "high_risk",
        "Does the system profile natural persons?",
        "Automated processing of personal data to evaluate aspects of a person, such as work "
        "performance, economic situation, health, preferences, interests, reliability, behaviour, "
        "location or movements (GDPR Art 4(4)).",
        "Art 6(3), last subparagraph",
        YES_NO,
    ),
    Question(
        "derogation_conditions",
        "high_risk",
        "For a system in an Annex III area: does it pose no significant risk of harm because of one "
        "of these conditions?",
        "Leave empty unless you claim the derogation. It never applies to a system that profiles "
        "natural persons, and the provider must document the assessment and register the system.",
        "Art 6(3)(a)-(d), Art 6(4)",
        ANY_OF,
        DEROGATION_CONDITIONS,
    ),
    Question(
        "derogation_rationale",
        "high_risk",
        "Why does the system pose no significant risk of harm to health, safety or fundamental rights?",
        "Required when you claim the derogation: the documented assessment a market-surveillance "
        "authority may ask for.",
        "Art 6(4)",
        TEXT,
    ),
    Question(
        "public_service",
        "high_risk",
        "Is the deployer a public body, or a private organisation providing a public service?",
        "Such deployers of high-risk systems assess the impact on fundamental rights before first use.",
        "Art 27(1)",
        YES_NO,
    ),
    Question(
        "interacts_with_people",
        "transparency",
        "Does the system interact directly with people (a chatbot, a voice assistant, an agent)?",
        "People must be told they are dealing with an AI system, unless it is obvious.",
        "Art 50(1)",
        YES_NO,
    ),
    Question(
        "generates_synthetic_content",
        "transparency",
        "Does it generate synthetic audio, images, video or text?",
        "Outputs must be marked in a machine-readable way and be detectable as artificially generated.",
        "Art 50(2)",
        YES_NO,
    ),
    Question(
        "emotion_or_biometric_categorisation",
        "transparency",
        "Does it recognise emotions or categorise people from biometric data?",
        "The people exposed must be informed. Emotion recognition at work or in education is "
        "prohibited (see above); biometric categorisation is also an Annex III area.",
        "Art 50(3)",
        YES_NO,
    ),
    Question(
        "deep_fake_or_public_text",
        "transparency",
        "Does it produce deep fakes, or text published to inform the public on matters of public interest?",
        "The deployer must disclose that the content was generated or manipulated (for text, unless a "
        "person reviewed it and holds editorial responsibility).",
        "Art 50(4)",
        YES_NO,
    ),
    Question(
        "genai_risks",
        "genai",
        "Which generative AI risks does the system carry?",
        "Tag every risk that applies; the register and the controls use these tags. Leave empty for a "
        "system that generates nothing.",
        "NIST AI 600-1 §2",
        ANY_OF,
        GENAI_RISKS,
    ),
)

QUESTIONS_BY_ID = {question.id: question for question in QUESTIONS}


def questions_in(section: str) -> list[Question]:
    return [question for question in QUESTIONS if question.section == section]


def catalog_as_data() -> dict:
    """The questionnaire as plain data (the API's /api/risk-catalog/)."""
    return {
        "version": CATALOG_VERSION,
        "sections": [
            {
                "id": section,
                "title": title,
                "questions": [
                    {
                        "id": question.id,
                        "text": question.text,
                        "help": question.help,
                        "reference": question.reference,
                        "kind": question.kind,
                        "required": question.required,
                        "options": [
                            {"value": option.value, "label": option.label, "reference": option.reference}
                            for option in question.options
                        ],
                    }
                    for question in questions_in(section)
                ],
            }
            for section, title in SECTIONS
        ],
    }


#
# Checking answers
#


def _short(question: Question) -> str:
    return f"“{question.text}” ({question.id})"


def _clean_one(question: Question, value) -> object:
    """The cleaned value of one answer, or a ValidationError naming the question."""
    if question.kind == YES_NO:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ValidationError(f"{_short(question)} takes true or false, not {value!r}.")
        return value
    if question.kind == ONE_OF:
        if value in (None, ""):
            if question.required:
                raise ValidationError(
                    f"{_short(question)} needs an answer: one of {', '.join(question.values)}."
                )
            return ""
        if not isinstance(value, str) or question.option(value) is None:
            raise ValidationError(
                f"{_short(question)}: {value!r} is not an option; choose one of {', '.join(question.values)}."
            )
        return value
    if question.kind == ANY_OF:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError(f"{_short(question)} takes a list of options, not {value!r}.")
        unknown = [item for item in value if question.option(item) is None]
        if unknown:
            raise ValidationError(
                f"{_short(question)}: {', '.join(map(repr, unknown))} "
                f"{'is not an option' if len(unknown) == 1 else 'are not options'}; "
                f"choose from {', '.join(question.values)}."
            )
        # Declared order, no repeats: the same answers always store the same way.
        return [option for option in question.values if option in value]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{_short(question)} takes text, not {value!r}.")
    if len(value) > TEXT_MAX_LENGTH:
        raise ValidationError(f"{_short(question)} is limited to {TEXT_MAX_LENGTH} characters.")
    return value.strip()


def clean_answers(answers) -> dict:
    """Answers checked against the catalog, every question present. Raises a ValidationError
    keyed by question id, each message naming the question."""
    if not isinstance(answers, dict):
        raise ValidationError("The answers must be an object keyed by question id.")
    errors: dict[str, list[str]] = {}
    for unknown in sorted(set(answers) - set(QUESTIONS_BY_ID)):
        errors[str(unknown)] = [f"“{unknown}” is not a question of the risk classification."]
    cleaned = {}
    for question in QUESTIONS:
        try:
            cleaned[question.id] = _clean_one(question, answers.get(question.id))
        except ValidationError as exc:
            errors[question.id] = exc.messages
    if not errors:
        if cleaned["derogation_conditions"] and not cleaned["annex_iii_areas"]:
            errors["derogation_conditions"] = [
                f"{_short(QUESTIONS_BY_ID['derogation_conditions'])}: the derogation only applies to "
                "a system in an Annex III area; choose the area or leave the conditions empty."
            ]
        if cleaned["gpai_systemic_risk"] and not cleaned["is_gpai"]:
            errors["gpai_systemic_risk"] = [
                f"{_short(QUESTIONS_BY_ID['gpai_systemic_risk'])}: only a general-purpose model your "
                "organisation provides can have systemic risk; answer that question yes, or this one no."
            ]
        if cleaned["annex_i_third_party_conformity"] and not cleaned["annex_i_product"]:
            errors["annex_i_third_party_conformity"] = [
                f"{_short(QUESTIONS_BY_ID['annex_i_third_party_conformity'])}: only asked for an Annex I "
                "product; answer that question yes, or this one no."
            ]
        if cleaned["derogation_conditions"] and not cleaned["derogation_rationale"]:
            errors["derogation_rationale"] = [
                f"{_short(QUESTIONS_BY_ID['derogation_rationale'])} is required when you claim the "
                "Art 6(3) derogation: explain why the system poses no significant risk of harm."
            ]
    if errors:
        raise ValidationError(errors)
    return cleaned


#
# Classifying
#


@dataclass
class Classification:
    tier: str
    reasons: list[dict] = field(default_factory=list)  # {"reference", "text"}: why the tier is what it is
    duties: list[dict] = field(default_factory=list)  # {"reference", "duty", "role"}: what follows from it
    derogation_applied: bool = False

    def because(self, reference: str, text: str) -> None:
        self.reasons.append({"reference": reference, "text": text})

    def must(self, reference: str, duty: str, role: str) -> None:
        self.duties.append({"reference": reference, "duty": duty, "role": role})


PROVIDER = AIActRoleChoices.PROVIDER
DEPLOYER = AIActRoleChoices.DEPLOYER

HIGH_RISK_PROVIDER_DUTIES = (
    ("Art 9", "Run a risk-management system across the lifecycle, tested against defined metrics."),
    ("Art 10", "Govern training, validation and test data: provenance, preparation, bias examination."),
    ("Art 11", "Draw up the Annex IV technical documentation before placing it on the market."),
    ("Art 12", "Log events automatically over the system's lifetime for traceability."),
    ("Art 13", "Give deployers instructions for use: purpose, accuracy, limits, risks, oversight."),
    ("Art 14", "Design for human oversight: people can interpret, override and stop the system."),
    ("Art 15", "Declare accuracy metrics; make it robust and secure against errors and attacks."),
    ("Art 17", "Operate a quality management system."),
    ("Arts 43, 47-49", "Pass conformity assessment, sign the EU declaration, affix CE marking, register."),
    ("Arts 72-73", "Monitor it after placing on the market; report serious incidents within the deadlines."),
)

HIGH_RISK_DEPLOYER_DUTIES = (
    ("Art 26(1)-(2)", "Use it according to the instructions; assign trained, empowered oversight staff."),
    (
        "Art 26(4)-(5)",
        "Keep input data relevant; monitor operation; suspend it and inform the provider "
        "if it presents a risk; report serious incidents.",
    ),
    ("Art 26(6)", "Keep the logs it generates for at least six months."),
    ("Art 26(7)", "Inform workers and their representatives before using it at the workplace."),
    (
        "Art 26(11), Art 86",
        "Tell people that they are subject to it, and explain individual decisions on request.",
    ),
)

TRANSPARENCY_TRIGGERS = (
    ("interacts_with_people", "Art 50(1)", PROVIDER,
     "It interacts directly with people.",
     "Design it so that people are told they are interacting with an AI system, unless obvious."),
    ("generates_synthetic_content", "Art 50(2)", PROVIDER,
     "It generates synthetic audio, images, video or text.",
     "Mark outputs in a machine-readable format so they are detectable as artificially generated."),
    ("emotion_or_biometric_categorisation", "Art 50(3)", DEPLOYER,
     "It recognises emotions or categorises people from biometric data.",
     "Inform the people exposed to it of its operation and process their data lawfully."),
    ("deep_fake_or_public_text", "Art 50(4)", DEPLOYER,
     "It produces deep fakes or text published on matters of public interest.",
     "Disclose that the content was artificially generated or manipulated."),
)  # fmt: skip


def _labels(options: tuple[Option, ...], values: list[str]) -> list[Option]:
    return [option for option in options if option.value in values]


def classify(answers: dict) -> Classification:
    """The tier, why, and what must be done, from cleaned answers (:func:`clean_answers`).

    Order of the rules: any Art 5 practice makes the system prohibited; otherwise the Annex I
    product route or an Annex III area makes it high-risk, unless the Art 6(3) derogation is
    claimed with a rationale and no natural person is profiled; otherwise an Art 50 trigger makes
    it limited (transparency); otherwise it is minimal. Art 50 duties apply on top of high risk.
    """
    role = answers["role"]
    is_provider = AIActRoleChoices.includes(role, PROVIDER)
    is_deployer = AIActRoleChoices.includes(role, DEPLOYER)

    practices = _labels(PROHIBITED_PRACTICES, answers["prohibited_practices"])
    if practices:
        result = Classification(tier=RiskTierChoices.PROHIBITED)
        for practice in practices:
            result.because(practice.reference, f"Prohibited practice: {practice.label.lower()}.")
        result.must(
            "Art 5",
            "Do not place it on the market, put it into service or use it in the EU; stop the work "
            "or redesign it so that no prohibited practice remains, then assess it again.",
            AIActRoleChoices.BOTH,
        )
        result.because("Art 99(3)", "Breaches of Art 5 carry fines of up to €35 million or 7% of turnover.")
        return result

    result = Classification(tier=RiskTierChoices.MINIMAL)
    high_risk = False

    if answers["annex_i_product"]:
        if answers["annex_i_third_party_conformity"]:
            high_risk = True
            result.because(
                "Art 6(1), Annex I",
                "It is, or is a safety component of, a product under Annex I legislation that needs a "
                "third-party conformity assessment.",
            )
        else:
            result.because(
                "Art 6(1)(b)",
                "It is an Annex I product, but without a third-party conformity assessment the product "
                "route does not make it high-risk.",
            )

    areas = _labels(ANNEX_III_AREAS, answers["annex_iii_areas"])
    conditions = _labels(DEROGATION_CONDITIONS, answers["derogation_conditions"])
    rationale = answers["derogation_rationale"]
    if areas:
        area_names = "; ".join(f"{area.label.split(':')[0]} ({area.reference})" for area in areas)
        if answers["profiles_natural_persons"]:
            high_risk = True
            result.because("Art 6(2), Annex III", f"Its intended use falls in Annex III: {area_names}.")
            result.because(
                "Art 6(3), last subparagraph",
                "It profiles natural persons, so it is always high-risk: no derogation can apply.",
            )
            if conditions:
                result.because(
                    "Art 6(3)",
                    "The derogation claimed ("
                    + ", ".join(condition.reference for condition in conditions)
                    + ") was not applied, and its rationale was set aside, because the system profiles "
                    "natural persons.",
                )
        elif conditions and rationale:
            result.derogation_applied = True
            result.because(
                "Art 6(3)",
                f"Its intended use falls in Annex III ({area_names}), but the derogation is claimed: "
                + "; ".join(f"{c.label.lower()} ({c.reference})" for c in conditions)
                + ". With the documented rationale and no profiling, it is not high-risk on this route.",
            )
            if is_provider:
                result.must(
                    "Art 6(4), Art 49(2)",
                    "Document the assessment before placing it on the market, register the system in "
                    "the EU database, and give the documentation to authorities on request.",
                    PROVIDER,
                )
        else:
            high_risk = True
            result.because("Art 6(2), Annex III", f"Its intended use falls in Annex III: {area_names}.")
            if conditions:
                result.because(
                    "Art 6(4)", "The derogation was claimed without a written rationale; not applied."
                )

    if high_risk:
        result.tier = RiskTierChoices.HIGH
        if is_provider:
            for reference, duty in HIGH_RISK_PROVIDER_DUTIES:
                result.must(reference, duty, PROVIDER)
        if is_deployer:
            for reference, duty in HIGH_RISK_DEPLOYER_DUTIES:
                result.must(reference, duty, DEPLOYER)
            area_values = {area.value for area in areas}
            fria_areas = area_values & {"creditworthiness", "life_health_insurance"}
            public_in_scope = answers["public_service"] and area_values - {"critical_infrastructure"}
            if fria_areas or public_in_scope:
                result.must(
                    "Art 27",
                    "Assess the impact on fundamental rights before first use (processes, period and "
                    "frequency, people affected, risks of harm, oversight, measures if risks "
                    "materialise) and notify the market-surveillance authority.",
                    DEPLOYER,
                )

    for answer, reference, duty_role, trigger, duty in TRANSPARENCY_TRIGGERS:
        if not answers[answer]:
            continue
        result.because(reference, f"Transparency duty: {trigger[0].lower()}{trigger[1:]}")
        if AIActRoleChoices.includes(role, duty_role):
            result.must(reference, duty, duty_role)
        else:
            result.must(reference, f"Check that the {duty_role} does this: {duty[0].lower()}{duty[1:]}", role)
        if result.tier == RiskTierChoices.MINIMAL:
            result.tier = RiskTierChoices.LIMITED

    if answers["is_gpai"]:
        result.because("Art 51", "It includes a general-purpose AI model that your organisation provides.")
        result.must(
            "Art 53(1)(a)",
            "Keep technical documentation of the model (Annex XI) for the AI Office.",
            PROVIDER,
        )
        result.must(
            "Art 53(1)(b)", "Give downstream providers the information they need (Annex XII).", PROVIDER
        )
        result.must(
            "Art 53(1)(c)", "Have a policy to comply with EU copyright law, honouring opt-outs.", PROVIDER
        )
        result.must(
            "Art 53(1)(d)", "Publish a sufficiently detailed summary of the training content.", PROVIDER
        )
        if answers["gpai_systemic_risk"]:
            result.because("Art 51(1)", "The model has systemic risk (over 10^25 FLOP, or designated).")
            result.must(
                "Art 52", "Notify the Commission within two weeks of meeting the threshold.", PROVIDER
            )
            result.must(
                "Art 55(1)",
                "Evaluate the model, adversarial testing included; assess and mitigate systemic risks; "
                "report serious incidents to the AI Office; secure the model and its infrastructure.",
                PROVIDER,
            )

    if result.tier == RiskTierChoices.MINIMAL and not result.reasons:
        result.because(
            "Arts 5, 6, 50",
            "No prohibited practice, no high-risk route and no transparency trigger: minimal risk.",
        )
    elif result.tier == RiskTierChoices.MINIMAL:
        result.because("Arts 5, 6, 50", "Nothing else makes it more than minimal risk.")
    result.must("Art 4", "Make sure the people who build and use it have sufficient AI literacy.", role)
    if result.tier == RiskTierChoices.MINIMAL:
        result.must("Art 95", "Voluntary: consider a code of conduct for minimal-risk systems.", role)
    return result
