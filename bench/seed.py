"""`propylon seed_benchmark`: the DESIGN.md §6 portfolio, built in a minute or two for the benchmark.

Benchmark tooling, so it lives in bench/ (a checkout's, not the installed package's); the
`propylon` console script routes `seed_benchmark` here (portal/cli.py).

5,000 use cases, 400 teams, 2,000 people and 50,000 releases are far too many to create through
the services one by one (each write is an audited, hash-chained entry). So this command writes
with ``_base_manager.bulk_create`` in batches, reproducing what the services would have stored:
teams with their ``team:<slug>`` group and mirrored membership, the lead's ``change_team``
grant, the owning team group's view/change/delete grants on every use case, keys UC-0001… with
the key sequence kept ahead. Bulk writes send no signals, so nothing reaches the audit trail by
itself; the command records one summary entry (what was seeded, how many of each) instead.

The text is what duplicate detection and search read, so it is written to look real: about sixty
kinds of AI effort (support chatbots, invoice capture, demand forecasts, "search over our
documents"...), each with several names and paraphrased purposes filled with products, systems,
regions and languages, so that teams describe the same effort in their own words.

The portfolio is synthetic and deterministic for a given ``--seed``. Run it on an empty database
(see bench/README.md); it refuses a database that already has use cases unless ``--force``.
"""

import hashlib
import math
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from guardian.models import GroupObjectPermission, UserObjectPermission

from inventory.choices import (
    AIKindChoices,
    DataSensitivityChoices,
    EnvironmentKindChoices,
    HumanOversightChoices,
    KpiDirectionChoices,
    ModelProviderChoices,
    RiskTierChoices,
    VisibilityChoices,
)
from inventory.models import (
    BusinessUnit,
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    KeySequence,
    Kpi,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Release,
    Team,
    UseCase,
    lifecycle_stage_model,
)
from inventory.models import Model as MLModel
from inventory.models.usecases import KEY_PREFIX
from inventory.services.organisation import TEAM_LEAD_PERMISSION
from portal.audit import audit_context, record
from portal.choices import AuditActionChoices, ChannelChoices
from portal.roles import Role, role_groups

BATCH_SIZE = 2000
# SQLite is for trying the command out; the figures DESIGN.md §6 asks for are PostgreSQL's.
SQLITE_MAX_USE_CASES = 1000
SQLITE_MAX_RELEASES = 10_000

#
# Vocabulary (data, not code)
#

BUSINESS_UNITS = (
    # name, topics its teams work on
    ("Customer Operations", ("Support", "Contact Centre", "Customer Care", "Service Quality", "Self-Service", "Complaints")),
    ("Sales", ("Sales Operations", "Pipeline", "Pricing", "Key Accounts", "Partner Sales", "Sales Enablement")),
    ("Marketing", ("Campaigns", "Content", "Brand", "Growth", "Loyalty", "Marketing Analytics")),
    ("Finance", ("FP&A", "Accounts Payable", "Treasury", "Controlling", "Tax", "Financial Close")),
    ("Legal & Compliance", ("Legal Tech", "Contracts", "Regulatory Affairs", "Privacy", "Compliance Monitoring", "Litigation")),
    ("People", ("Recruiting", "HR Operations", "Learning", "People Analytics", "Workplace", "Reward")),
    ("Engineering Platform", ("ML Platform", "Developer Experience", "Cloud Infrastructure", "Observability", "Release Engineering", "Search Platform")),
    ("Data & Analytics", ("Data Science", "Data Engineering", "BI", "Data Quality", "Experimentation", "Knowledge Platform")),
    ("Supply Chain", ("Demand Planning", "Inventory", "Logistics", "Warehouse", "Transport", "Fulfilment")),
    ("Manufacturing", ("Production", "Quality", "Maintenance", "Process Engineering", "Plant Analytics", "Industrial IoT")),
    ("Procurement", ("Sourcing", "Supplier Management", "Purchasing", "Spend Analytics", "Category Management", "Contract Management")),
    ("Risk Management", ("Credit Risk", "Fraud", "Financial Crime", "Model Risk", "Operational Risk", "Insurance Risk")),
    ("IT Operations", ("Service Desk", "Workplace IT", "IT Automation", "Incident Management", "Enterprise Apps", "Identity")),
    ("Security", ("Security Operations", "Threat Intelligence", "Application Security", "Identity Security", "Cyber Defence", "Security Analytics")),
    ("Product", ("Mobile App", "Web Shop", "Personalisation", "Product Analytics", "Checkout", "Onboarding")),
    ("Research & Development", ("Applied Research", "Materials", "Simulation", "Prototyping", "Lab Automation", "Innovation")),
    ("Claims", ("Claims Handling", "Claims Fraud", "Motor Claims", "Property Claims", "Recoveries", "Claims Analytics")),
    ("Underwriting", ("Commercial Underwriting", "Retail Underwriting", "Pricing Models", "Portfolio Steering", "Reinsurance", "Underwriting Tools")),
    ("Corporate Strategy", ("Strategy Office", "M&A", "Market Intelligence", "Transformation", "Investor Relations", "ESG")),
    ("Facilities", ("Real Estate", "Energy", "Building Services", "Health & Safety", "Travel", "Fleet")),
)  # fmt: skip
TEAM_NOUNS = ("Analytics", "Automation", "Engineering", "Insights", "Data Science", "Applied AI", "Tools",
              "Operations", "Intelligence", "Digital", "Platform", "Solutions")  # fmt: skip

FIRST_NAMES = (
    "Aarav", "Ada", "Adebayo", "Agnes", "Ahmed", "Aiko", "Aisha", "Akira", "Alejandro", "Alice", "Amara", "Amir",
    "Ana", "Anders", "Andrea", "Anna", "Antoine", "Arjun", "Astrid", "Ayla", "Beatriz", "Ben", "Bianca", "Bjorn",
    "Camille", "Carlos", "Carmen", "Chen", "Chiara", "Chloe", "Christian", "Claire", "Daniel", "Daria", "David",
    "Diego", "Dmitri", "Elena", "Elif", "Emeka", "Emil", "Emma", "Erik", "Esther", "Eva", "Fatima", "Felix",
    "Fernando", "Freya", "Gabriel", "Giulia", "Grace", "Hana", "Hannah", "Hassan", "Helena", "Henrik", "Hugo",
    "Ines", "Ingrid", "Isabel", "Ivan", "Jakob", "James", "Jana", "Javier", "Jin", "Jonas", "Jose", "Julia",
    "Kai", "Karin", "Kenji", "Kofi", "Lars", "Laura", "Lea", "Lena", "Leon", "Liam", "Lina", "Lucas", "Lucia",
    "Magnus", "Maja", "Marco", "Maria", "Mariam", "Marta", "Mateo", "Mei", "Mia", "Mikael", "Nadia", "Naomi",
    "Niamh", "Nikolai", "Noah", "Nora", "Olga", "Oliver", "Omar", "Oscar", "Paula", "Pedro", "Pieter", "Priya",
    "Rafael", "Rahul", "Ravi", "Rosa", "Ruth", "Samir", "Sara", "Sebastian", "Simone", "Sofia", "Sven", "Tariq",
    "Tereza", "Thomas", "Tomas", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abe", "Adeyemi", "Almeida", "Andersen", "Bauer", "Becker", "Bianchi", "Bogdan", "Brandt", "Castro", "Chen",
    "Costa", "Dahl", "Dubois", "Eriksson", "Esposito", "Fernandez", "Fischer", "Fontaine", "Garcia", "Gomez",
    "Haddad", "Hansen", "Hoffmann", "Horvath", "Ibrahim", "Ivanova", "Jansen", "Jensen", "Johansson", "Kaur",
    "Kim", "Koch", "Kowalski", "Kruger", "Larsen", "Laurent", "Lehmann", "Li", "Lindqvist", "Lopez", "Lund",
    "Mahmoud", "Marino", "Martin", "Meyer", "Moreau", "Morales", "Muller", "Nair", "Nakamura", "Nguyen",
    "Nielsen", "Novak", "Nowak", "Okafor", "Olsen", "Ortiz", "Osei", "Park", "Patel", "Pereira", "Petrov",
    "Popescu", "Quinn", "Rao", "Reyes", "Richter", "Romano", "Rossi", "Ruiz", "Sato", "Schmidt", "Schneider",
    "Schulz", "Sharma", "Silva", "Singh", "Sorensen", "Suzuki", "Svensson", "Szabo", "Tanaka", "Torres",
    "Van Dijk", "Varga", "Vogel", "Volkov", "Wagner", "Walsh", "Wang", "Weber", "Wolf", "Wright", "Yamamoto",
    "Yilmaz", "Zhang", "Zimmermann",
)  # fmt: skip
MEMBER_TITLES = ("Data scientist", "ML engineer", "Software engineer", "Data engineer", "Data analyst",
                 "Product manager", "Business analyst", "Solutions architect", "MLOps engineer",
                 "Process owner", "Domain expert", "Analytics engineer", "UX researcher")  # fmt: skip
EXECUTIVE_TITLES = ("Chief Technology Officer", "Chief Data Officer", "Chief Financial Officer",
                    "Chief Operating Officer", "Chief Risk Officer", "Chief People Officer",
                    "Chief Information Officer", "Chief Commercial Officer")  # fmt: skip

# What templates put into their text. Several per slot so that teams word the same effort
# differently; every template draws a value for every slot.
SLOTS = {
    "product": ("mortgages", "credit cards", "home insurance", "motor insurance", "the mobile app",
                "business accounts", "spare parts", "the online shop", "enterprise licences",
                "subscriptions", "field services", "savings products", "travel insurance", "broadband plans"),
    "region": ("the Nordics", "DACH", "the UK", "Iberia", "North America", "APAC", "Benelux", "France",
               "Italy", "Central Europe", "Latin America", "the Middle East"),
    "source": ("Salesforce", "ServiceNow", "Zendesk", "SAP", "Workday", "Confluence", "SharePoint",
               "the data warehouse", "Jira", "the CRM", "Snowflake", "Google Drive", "Dynamics 365", "Coupa"),
    "language": ("German", "French", "Spanish", "Japanese", "Polish", "Dutch", "Italian", "Portuguese", "Swedish"),
    "audience": ("support agents", "account managers", "field engineers", "underwriters", "claims handlers",
                 "store managers", "analysts", "recruiters", "buyers", "lawyers", "engineers", "planners"),
    "channel": ("web chat", "WhatsApp channel", "mobile app", "customer portal", "voice line", "email inbox"),
    "vendor": ("Microsoft 365 Copilot", "Salesforce Einstein", "Zendesk AI", "Gong", "ServiceNow Now Assist",
               "Workday AI", "Grammarly Business", "GitHub Copilot", "Adobe Firefly", "DeepL Pro"),
}  # fmt: skip
# Slot values for naming shared models and datasets after the effort they serve.
NAMING_SLOTS = {slot: options[0] for slot, options in SLOTS.items()}
EXTRA_SENTENCES = (
    "The pilot is limited to {n} users in {region}.",
    "It replaces a manual process that takes about {hours} hours a week.",
    "Outputs are reviewed by {audience} before anything is sent.",
    "It runs nightly on data exported from {source}.",
    "A second phase would extend it to {other_region}.",
    "It integrates with {source} through its API.",
    "Target: cut handling time by {pct}% within a year.",
    "Built on the shared retrieval layer and the central model gateway.",
    "The vendor contract is under review by procurement.",
    "Started as a hackathon prototype and now used daily by {audience}.",
    "Results are shown in a dashboard next to {source}.",
    "Success is measured against a hold-out group of {audience}.",
)


@dataclass(frozen=True)
class Template:
    """One kind of AI effort, as teams across the company describe it."""

    slug: str
    kind: str
    sensitivity: tuple[str, ...]
    tags: tuple[str, ...]
    names: tuple[str, ...]
    purposes: tuple[str, ...]
    customer_facing: float = 0.0  # probability
    tier: str = RiskTierChoices.MINIMAL  # what a completed assessment usually concludes
    restricted: float = 0.06  # probability of restricted visibility
    weight: float = 1.0  # how common the effort is


_G, _P, _A, _V = (
    AIKindChoices.GENERATIVE,
    AIKindChoices.PREDICTIVE,
    AIKindChoices.AGENTIC,
    AIKindChoices.VENDOR_SAAS,
)
_PUB, _INT, _CONF, _PII, _PHI = (DataSensitivityChoices.PUBLIC, DataSensitivityChoices.INTERNAL,
                                 DataSensitivityChoices.CONFIDENTIAL, DataSensitivityChoices.PII, DataSensitivityChoices.PHI)  # fmt: skip
_MIN, _LIM, _HIGH = RiskTierChoices.MINIMAL, RiskTierChoices.LIMITED, RiskTierChoices.HIGH

TEMPLATES = (
    Template("support-chatbot", _G, (_PII,), ("support", "chatbot", "customer"),
             ("Support chatbot", "Customer service assistant", "Help centre bot", "Virtual agent for {product}"),
             ("A chat assistant on the help centre that answers customers' questions about {product} from the support knowledge base and hands over to an agent when it is unsure.",
              "Customers ask about orders, returns and billing for {product} in the {channel} and get answers from our help articles; difficult conversations go to {audience}.",
              "Conversational bot in the {channel} that resolves common {product} requests without a human and escalates the rest to the support desk."),
             customer_facing=0.9, tier=_LIM, weight=2.0),
    Template("agent-assist", _G, (_PII,), ("support", "agent-assist"),
             ("Agent reply suggestions", "Reply drafting for agents", "Agent assist for {product}", "Suggested responses"),
             ("Drafts replies for {audience} inside {source}; they edit and send them. Aims to cut handling time on repetitive tickets about {product}.",
              "Suggests answers and relevant help articles to {audience} while they work a case, so new joiners resolve {product} questions faster.",
              "Generates a first draft of the response to each customer email in {source} for the agent to review and send."),
             weight=1.5),
    Template("ticket-triage", _P, (_PII, _INT), ("support", "triage", "classification"),
             ("Ticket triage", "Case routing model", "Automatic ticket categorisation", "Smart routing for {product} cases"),
             ("Classifies incoming {source} tickets by topic and urgency and routes them to the right queue so that {audience} stop sorting the backlog by hand.",
              "Predicts the category, priority and owning team of every new support case about {product} and assigns it automatically.",
              "Reads the subject and body of customer emails and tickets and dispatches them to the matching resolver group in {region}.")),
    Template("call-summaries", _G, (_PII,), ("contact-centre", "summarisation", "speech"),
             ("Call summaries", "After-call notes", "Conversation summariser", "Automatic call wrap-up"),
             ("Transcribes customer calls and writes the after-call summary and disposition into {source}, so agents skip the wrap-up work.",
              "Summarises each recorded conversation with a customer about {product} into three bullet points and the agreed next steps.",
              "Speech-to-text plus an LLM that produces call notes for {audience} in {language} and English."),
             weight=1.2),
    Template("call-quality", _P, (_PII,), ("contact-centre", "quality", "speech"),
             ("Call quality scoring", "QA scoring for calls", "Automated quality assurance", "Conversation quality monitor"),
             ("Scores recorded support calls against the quality checklist so supervisors coach on the calls that need it instead of listening to a random sample.",
              "Evaluates every call and chat in {region} for greeting, verification, empathy and resolution and flags the ones below standard.")),
    Template("volume-forecast", _P, (_INT,), ("forecasting", "contact-centre", "staffing"),
             ("Contact volume forecast", "Call volume forecasting", "Workforce demand forecast", "Staffing forecast for {region}"),
             ("Forecasts call and chat volumes per 30-minute interval for the next six weeks so workforce planning can staff the contact centre in {region}.",
              "Predicts inbound contact demand by channel and skill so that schedules for {audience} match the expected load.")),
    Template("feedback-sentiment", _P, (_PII, _INT), ("customer", "sentiment", "nlp"),
             ("Voice of the customer analytics", "Review sentiment analysis", "NPS comment mining", "Complaint theme detection"),
             ("Analyses free-text survey answers, app store reviews and complaints about {product} to find the themes behind falling satisfaction.",
              "Tags customer feedback from {source} with topic and sentiment every week and reports the biggest movers to product teams.")),
    Template("churn", _P, (_CONF, _PII), ("churn", "retention", "customer"),
             ("Churn prediction for {product}", "Customer attrition model", "Retention risk score", "Cancellation early warning"),
             ("Predicts which customers of {product} are likely to cancel in the next 90 days so the retention team can call them first.",
              "Scores every active contract monthly for attrition risk using usage, billing and complaint history from {source}.")),
    Template("next-best-offer", _P, (_PII,), ("recommendations", "marketing", "personalisation"),
             ("Next best offer", "Product recommendations", "Cross-sell propensity model", "Personalised offers in the {channel}"),
             ("Recommends the next product to offer each customer in the {channel} based on their holdings and behaviour, for {product}.",
              "Propensity models that rank cross-sell and up-sell offers for {audience} to present during customer conversations."),
             customer_facing=0.6, weight=1.2),
    Template("lead-scoring", _P, (_CONF,), ("sales", "scoring", "pipeline"),
             ("Lead scoring", "Opportunity win probability", "Sales pipeline scoring", "Account prioritisation"),
             ("Scores inbound leads and open opportunities in {source} by likelihood to close so {audience} spend time on the right deals.",
              "Ranks accounts in {region} by expected revenue and buying signals for the weekly pipeline review.")),
    Template("sales-email", _G, (_CONF,), ("sales", "genai", "email"),
             ("Sales email assistant", "Prospecting email drafts", "Outreach copilot", "Account research assistant"),
             ("Drafts personalised prospecting emails and call preparation notes for {audience} from CRM data and public company information.",
              "Generates first-touch and follow-up emails in {language} and English for sales reps, grounded in account history from {source}.")),
    Template("marketing-copy", _G, (_PUB, _INT), ("marketing", "content", "genai"),
             ("Campaign copy generator", "Marketing content assistant", "Ad copy variants", "Newsletter writer"),
             ("Writes first drafts of campaign emails, landing pages and ad variants for {product} in the brand's tone of voice; marketers edit and approve them.",
              "Generates and localises marketing copy into {language} for campaigns in {region}, checked against the brand guidelines."),
             customer_facing=0.4, tier=_LIM, weight=1.3),
    Template("product-descriptions", _G, (_PUB,), ("ecommerce", "content", "genai"),
             ("Product description writer", "Catalogue enrichment", "SEO product texts", "Product content generation"),
             ("Generates product titles, descriptions and attributes for the online shop from supplier data sheets, so new items go live faster.",
              "Enriches thin catalogue entries for {product} with consistent descriptions and search keywords in {language}."),
             customer_facing=0.7, tier=_LIM),
    Template("creative-images", _G, (_PUB,), ("marketing", "images", "genai"),
             ("Campaign image generation", "Creative asset generator", "Banner variants"),
             ("Generates image variants and banners for campaigns from a brief, using {vendor}, for the marketing team to choose from.",),
             customer_facing=0.5, tier=_LIM, weight=0.6),
    Template("dynamic-pricing", _P, (_CONF,), ("pricing", "optimisation"),
             ("Dynamic pricing", "Price optimisation for {product}", "Markdown optimisation", "Promotion pricing model"),
             ("Recommends prices per product and channel from demand elasticity, competitor prices and stock levels, reviewed weekly by the pricing team.",
              "Optimises discounts and markdown timing for {product} in {region} to clear stock without giving away margin."),
             customer_facing=0.3),
    Template("demand-forecast", _P, (_INT,), ("forecasting", "supply-chain", "demand"),
             ("Demand forecast", "Sales forecasting for {region}", "SKU-level demand planning", "Weekly demand prediction"),
             ("Forecasts weekly demand per SKU and warehouse for the next 26 weeks to drive replenishment and production plans.",
              "Predicts sales of {product} per store and week in {region}, including promotions and holidays, for {audience}."),
             weight=1.5),
    Template("inventory-optimisation", _P, (_INT,), ("supply-chain", "inventory", "optimisation"),
             ("Stock replenishment optimisation", "Safety stock optimisation", "Inventory positioning"),
             ("Sets safety stock and reorder points per item and location from forecast uncertainty, lowering stock while keeping service levels.",
              "Recommends which warehouse should hold which spare parts for {region} to cut delivery times and write-offs.")),
    Template("route-optimisation", _P, (_INT, _PII), ("logistics", "optimisation", "routing"),
             ("Delivery route optimisation", "Field service scheduling", "Dispatch optimisation"),
             ("Plans delivery routes and time windows for the fleet in {region} every morning from orders, traffic and driver shifts.",
              "Schedules {audience} visits to customer sites, balancing travel time, skills and appointment windows.")),
    Template("predictive-maintenance", _P, (_INT,), ("maintenance", "iot", "anomaly"),
             ("Predictive maintenance", "Equipment failure prediction", "Sensor anomaly detection", "Machine health monitoring"),
             ("Predicts failures of pumps, motors and conveyors from vibration and temperature sensors so maintenance is planned before breakdowns.",
              "Detects anomalies in sensor data from the production lines in {region} and opens a work order in {source} when a machine drifts."),
             weight=1.3),
    Template("visual-inspection", _P, (_INT,), ("quality", "computer-vision", "manufacturing"),
             ("Visual defect detection", "Quality inspection camera", "Weld seam inspection", "Surface defect classifier"),
             ("Cameras on the line photograph every part and a vision model flags scratches, dents and misalignments for an inspector to confirm.",
              "Computer vision that inspects welds and seals at end of line in {region} and rejects defective units automatically.")),
    Template("supplier-risk", _P, (_CONF,), ("procurement", "risk", "suppliers"),
             ("Supplier risk scoring", "Vendor risk monitor", "Supply disruption early warning"),
             ("Scores suppliers for financial, delivery and sanctions risk from news, ratings and our own delivery data, and alerts buyers to changes.",
              "Monitors news and filings for events that could disrupt critical suppliers in {region} and summarises them for {audience}.")),
    Template("contract-review-procurement", _G, (_CONF,), ("procurement", "contract", "genai"),
             ("Procurement contract review", "Supplier contract checker", "Purchase terms analysis"),
             ("Compares supplier contracts against our standard purchasing terms and highlights deviations in liability, payment terms and termination for buyers.",)),
    Template("invoice-capture", _P, (_CONF,), ("finance", "invoices", "ocr"),
             ("Invoice data capture", "Invoice OCR", "AP automation", "Invoice digitisation"),
             ("Extracts supplier, amounts, VAT and line items from PDF invoices into {source} so accounts payable stops typing them in.",
              "Reads scanned and emailed supplier invoices, captures the header and line data and matches them to purchase orders automatically.",
              "Digitises incoming bills from suppliers in {region} with OCR and a document model, posting them for approval."),
             weight=1.3),
    Template("invoice-fraud", _P, (_CONF,), ("finance", "fraud", "invoices"),
             ("Invoice fraud scoring", "Duplicate payment detection", "Payment anomaly detection"),
             ("Scores incoming supplier invoices for fraud and duplicate-payment risk before they are paid; accounts payable reviews the flagged ones.",
              "Detects duplicate and suspicious supplier payments in {source} before the weekly payment run.")),
    Template("expense-audit", _P, (_PII, _CONF), ("finance", "expenses", "anomaly"),
             ("Expense report auditing", "Travel and expense anomaly detection", "Receipt checking"),
             ("Checks employee expense claims against policy and receipts and flags unusual ones for the finance team instead of sampling them.",)),
    Template("cash-forecast", _P, (_CONF,), ("finance", "forecasting", "treasury"),
             ("Cash flow forecast", "Treasury liquidity forecast", "Receivables forecast"),
             ("Forecasts daily cash positions per entity for 13 weeks from receivables, payables and payroll for the treasury team.",
              "Predicts when customers in {region} will pay open invoices to improve the cash forecast and prioritise collections.")),
    Template("reconciliation", _P, (_CONF,), ("finance", "reconciliation", "close"),
             ("Reconciliation matching", "Intercompany matching", "Bank statement matching"),
             ("Matches bank statement lines and intercompany postings to open items in {source}, leaving accountants only the exceptions at month end.",)),
    Template("spend-analytics", _P, (_CONF,), ("finance", "spend", "anomaly"),
             ("Spend classification", "Spend anomaly alerts", "Cost centre spend monitor"),
             ("Classifies purchase lines into spend categories and flags unusual spend per cost centre each week so budget owners see surprises before month end.",)),
    Template("credit-scoring", _P, (_PII,), ("credit", "risk", "scoring"),
             ("Credit scoring for {product}", "Probability of default model", "Affordability assessment", "Credit decision engine"),
             ("Scores applications for {product} on probability of default from bureau data and account history; underwriters decide borderline cases.",
              "Assesses the creditworthiness of consumers applying for {product} in {region}. Creditworthiness assessment is a high-risk use under the EU AI Act."),
             customer_facing=0.2, tier=_HIGH, restricted=0.3),
    Template("transaction-fraud", _P, (_PII,), ("fraud", "payments", "real-time"),
             ("Card fraud detection", "Transaction monitoring", "Real-time payment fraud scoring"),
             ("Scores card and account transactions in real time for fraud and blocks or challenges the riskiest ones.",
              "Detects account takeover and payment fraud on {product} from device, behaviour and transaction signals.")),
    Template("aml", _P, (_PII,), ("financial-crime", "aml", "alerts"),
             ("AML alert prioritisation", "Suspicious activity triage", "Transaction monitoring alert scoring"),
             ("Ranks anti-money-laundering alerts by likelihood of being suspicious so investigators work the important ones first and close false positives faster.",),
             restricted=0.4),
    Template("kyc", _P, (_PII,), ("kyc", "onboarding", "identity"),
             ("KYC document check", "Identity document verification", "Customer due diligence automation"),
             ("Checks identity documents and selfies submitted during onboarding for {product} and extracts the data for the KYC record.",),
             customer_facing=0.6, tier=_LIM),
    Template("claims-triage", _P, (_PII, _PHI), ("claims", "triage", "insurance"),
             ("Claims triage", "Claims fraud scoring", "Fast-track claims routing", "Claims complexity model"),
             ("Routes new insurance claims to fast-track or expert handling based on complexity and fraud indicators, for {audience}.",
              "Scores {product} claims for fraud risk at first notification of loss so investigators review only the suspicious ones."),
             restricted=0.15),
    Template("damage-estimation", _P, (_PII,), ("claims", "computer-vision", "insurance"),
             ("Damage estimation from photos", "Vehicle damage assessment", "Property damage photo analysis"),
             ("Estimates repair costs from photos customers upload when they file a claim, so small claims are settled the same day.",),
             customer_facing=0.5),
    Template("underwriting-assistant", _G, (_CONF, _PII), ("underwriting", "genai", "insurance"),
             ("Underwriting assistant", "Submission intake for underwriters", "Risk summary generator"),
             ("Reads broker submissions and loss runs and prepares a structured risk summary for {audience}, who make the decision.",)),
    Template("legal-summaries", _G, (_CONF,), ("legal", "summarisation", "contract"),
             ("Legal document summariser", "Contract summaries", "Clause extraction", "Contract brief generator"),
             ("Summarises long contracts and legal memos into a one-page brief with the key obligations, dates and unusual clauses, for lawyers reviewing third-party paper.",
              "Extracts parties, term, renewal, liability caps and governing law from agreements and produces a summary for {audience}.")),
    Template("contract-search", _G, (_CONF,), ("legal", "search", "documents"),
             ("Contract clause finder", "Contract archive search", "Legal knowledge search"),
             ("Lets lawyers search our internal contract archive and legal documents in plain language and get the matching clauses with links to the source files.",)),
    Template("regulatory-monitor", _G, (_PUB, _INT), ("regulatory", "compliance", "summarisation"),
             ("Regulatory change monitor", "Regulation digest", "Compliance horizon scanning"),
             ("Tracks new regulations and guidance from regulators in {region}, summarises what changed and who in the company is affected.",)),
    Template("hr-policy-qa", _G, (_INT,), ("hr", "search", "documents"),
             ("HR policy Q&A", "HR helpdesk assistant", "Benefits chatbot", "Ask HR"),
             ("Employees ask questions about HR policies, leave and benefits and get answers found in the internal policy documents and the HR wiki, instead of opening a ticket.",
              "A chat assistant on the intranet that answers staff questions about holidays, parental leave and expenses from the employee handbook in {language} and English."),
             tier=_LIM, weight=1.2),
    Template("knowledge-assistant", _G, (_INT, _CONF), ("search", "rag", "knowledge", "documents"),
             ("Knowledge assistant", "Enterprise search", "DocFinder", "Intranet Q&A", "Internal document search", "Ask our docs"),
             ("An assistant that answers employees' questions from the intranet, Confluence pages and internal documentation, citing the pages it used (retrieval-augmented generation over our documents).",
              "Semantic search over {source} and SharePoint so that {audience} find procedures and past work instead of asking colleagues.",
              "Employees ask questions in plain language and get answers from our internal documents, wikis and policies, with links to the sources."),
             tier=_LIM, weight=2.2),
    Template("it-helpdesk", _G, (_INT,), ("it", "chatbot", "helpdesk"),
             ("IT service desk bot", "Password reset assistant", "IT self-service assistant"),
             ("Answers employees' IT questions and resolves password resets and access requests in {source} without a service desk ticket.",)),
    Template("cv-screening", _G, (_PII,), ("hr", "recruiting", "ranking"),
             ("CV screening assistant", "Candidate ranking", "Applicant shortlisting", "Talent matching"),
             ("Ranks job applications against the role's requirements and drafts a shortlist for recruiters. Recruitment is an Annex III high-risk area under the EU AI Act.",
              "Matches candidate CVs from {source} to open positions in {region} and suggests who to interview first."),
             tier=_HIGH, restricted=0.6),
    Template("job-ads", _G, (_INT,), ("hr", "recruiting", "genai"),
             ("Job ad writer", "Job description generator", "Inclusive job ads"),
             ("Drafts job descriptions and adverts from a short brief, checking the wording for biased language, for recruiters and hiring managers.",)),
    Template("attrition", _P, (_PII,), ("hr", "attrition", "people-analytics"),
             ("Attrition risk model", "Employee flight risk prediction", "Retention analytics"),
             ("Predicts which teams and roles are at risk of high employee turnover from engagement, pay and tenure data for HR business partners.",),
             tier=_HIGH, restricted=0.7, weight=0.7),
    Template("learning-recommendations", _P, (_PII,), ("hr", "learning", "recommendations"),
             ("Learning recommendations", "Skills matching for internal mobility", "Career path suggestions"),
             ("Recommends courses and internal job openings to employees based on their skills profile and career goals.",)),
    Template("meeting-notes", _G, (_CONF,), ("productivity", "summarisation", "meetings"),
             ("Meeting notes assistant", "Meeting summaries", "Action item extraction"),
             ("Transcribes internal meetings and produces notes with decisions and action items, posted to the team channel.",)),
    Template("email-triage", _P, (_PII,), ("email", "triage", "automation"),
             ("Shared mailbox triage", "Email classification", "Inbox routing"),
             ("Classifies messages arriving in the {region} shared mailbox and routes them to the right team with extracted reference numbers.",)),
    Template("translation", _G, (_CONF, _INT), ("translation", "language", "genai"),
             ("Document translation", "Ticket translation to {language}", "Machine translation service"),
             ("Translates customer messages and internal documents between {language} and English so teams in {region} can work in their own language.",)),
    Template("code-assistant", _G, (_CONF,), ("engineering", "code", "genai"),
             ("Coding assistant", "Code review bot", "Developer copilot", "Pull request summariser"),
             ("Suggests code, explains unfamiliar code and summarises pull requests for {audience}, using {vendor} with our repositories as context.",
              "Reviews pull requests automatically for bugs, security issues and style, commenting before a human reviewer looks."),
             weight=1.2),
    Template("test-generation", _G, (_CONF,), ("engineering", "testing", "genai"),
             ("Unit test generator", "Test case generation", "Regression test assistant"),
             ("Generates unit and integration tests for legacy services from their code and logs, to raise coverage before refactoring.",)),
    Template("aiops", _P, (_INT,), ("it", "incidents", "anomaly"),
             ("Alert noise reduction", "Incident root cause suggestions", "Log anomaly detection", "AIOps event correlation"),
             ("Correlates monitoring alerts into incidents and suggests the likely root cause from logs and recent changes, for on-call engineers.",
              "Detects anomalies in application logs and metrics before customers notice and opens an incident in {source}.")),
    Template("security-detection", _P, (_CONF,), ("security", "detection", "anomaly"),
             ("Phishing email detection", "Threat detection on logs", "Insider risk analytics", "Malware triage"),
             ("Detects phishing emails reported by staff and in the mail flow, and quarantines the dangerous ones automatically.",
              "Finds suspicious sign-ins and data movements in security logs and prioritises them for the security operations centre."),
             restricted=0.5),
    Template("data-quality", _P, (_INT,), ("data", "quality", "anomaly"),
             ("Data quality monitor", "Pipeline anomaly detection", "Data drift alerts"),
             ("Learns the normal volume, freshness and distribution of critical tables in {source} and alerts data owners when a load looks wrong.",)),
    Template("text-to-sql", _G, (_CONF, _INT), ("analytics", "genai", "bi"),
             ("Ask the data warehouse", "Text-to-SQL analytics assistant", "Self-service BI copilot", "Natural language reporting"),
             ("Business users ask questions about sales and operations in plain English and get charts answered from {source}, with the SQL shown.",
              "Lets {audience} query the data warehouse in natural language instead of waiting for the BI team to build a report.")),
    Template("report-commentary", _G, (_CONF,), ("finance", "reporting", "genai"),
             ("Management report commentary", "Variance explanation writer", "Monthly report narrative"),
             ("Drafts the commentary for the monthly management report from the variance tables, for controllers to edit.",)),
    Template("energy-optimisation", _P, (_INT,), ("energy", "facilities", "optimisation"),
             ("Building energy optimisation", "HVAC optimisation", "Energy consumption forecast"),
             ("Forecasts energy use per building and adjusts heating and cooling set points to cut consumption in offices in {region}.",)),
    Template("records-classification", _P, (_CONF,), ("records", "classification", "documents"),
             ("Records classification", "Document tagging for retention", "Sensitive data discovery"),
             ("Classifies documents in {source} by record type and sensitivity so retention and access rules can be applied automatically.",)),
    Template("rfp-assistant", _G, (_CONF,), ("sales", "rfp", "genai"),
             ("RFP response assistant", "Tender answer drafting", "Security questionnaire assistant"),
             ("Drafts answers to RFPs and security questionnaires from our library of approved past answers, for the bid team to review.",)),
    Template("call-compliance", _P, (_PII,), ("compliance", "speech", "contact-centre"),
             ("Call compliance monitoring", "Mis-selling detection", "Disclosure checking"),
             ("Checks recorded sales calls about {product} for required disclosures and mis-selling risk and samples the risky ones for compliance review.",),
             restricted=0.2),
    Template("health-triage", _P, (_PHI,), ("hr", "health", "triage"),
             ("Occupational health triage", "Sick leave case prioritisation"),
             ("Prioritises occupational health referrals by urgency from the referral form so that nurses call the most urgent cases first.",),
             tier=_HIGH, restricted=0.8, weight=0.4),
    Template("voice-authentication", _P, (_PII,), ("identity", "biometrics", "contact-centre"),
             ("Voice authentication", "Voice biometrics for callers"),
             ("Verifies callers by their voice print on the {channel} so they skip security questions.",),
             customer_facing=0.9, tier=_HIGH, restricted=0.3, weight=0.5),
    Template("saas-copilot", _V, (_CONF, _INT), ("vendor", "productivity", "genai"),
             ("{vendor} rollout", "{vendor} for {audience}", "{vendor} pilot"),
             ("Enables the AI features of {vendor} for {audience}: drafting, summarising and searching their work content.",
              "Licensed rollout of {vendor} to a first group of users in {region}, with usage and data protection reviewed by the CoE."),
             weight=1.8),
    Template("order-agent", _A, (_PII, _CONF), ("agent", "orders", "automation"),
             ("Order management agent", "Refund agent", "Procurement agent", "Returns handling agent"),
             ("An agent that reads customer requests, looks up the order in {source}, and issues refunds or replacements within set limits, asking a human above them.",
              "Autonomous agent that raises purchase orders for routine items from approved catalogues and chases suppliers for confirmation."),
             tier=_LIM, weight=0.8),
    Template("research-assistant", _G, (_CONF,), ("research", "search", "genai"),
             ("Research literature assistant", "Patent search assistant", "Lab notebook search"),
             ("Searches scientific literature and patents and summarises the findings relevant to a research question for {audience}.",)),
    Template("esg-reporting", _G, (_INT,), ("esg", "reporting", "extraction"),
             ("ESG data extraction", "Sustainability report assistant"),
             ("Extracts emissions and energy figures from supplier reports and utility bills to prepare the sustainability disclosures.",)),
)  # fmt: skip

KPI_CHOICES = (
    ("Average handling time", "minutes", KpiDirectionChoices.LOWER_IS_BETTER),
    ("Tickets deflected per month", "tickets", KpiDirectionChoices.HIGHER_IS_BETTER),
    ("Forecast error (MAPE)", "%", KpiDirectionChoices.LOWER_IS_BETTER),
    ("Hours saved per month", "hours", KpiDirectionChoices.HIGHER_IS_BETTER),
    ("Precision at review threshold", "%", KpiDirectionChoices.HIGHER_IS_BETTER),
    ("Customer satisfaction", "CSAT", KpiDirectionChoices.HIGHER_IS_BETTER),
    ("Cost per prediction", "EUR", KpiDirectionChoices.LOWER_IS_BETTER),
    ("Adoption: weekly active users", "users", KpiDirectionChoices.HIGHER_IS_BETTER),
    ("False positive rate", "%", KpiDirectionChoices.LOWER_IS_BETTER),
    ("Revenue uplift", "EUR", KpiDirectionChoices.HIGHER_IS_BETTER),
)
FOUNDATION_MODELS = (
    # name, provider, vendor
    ("Hosted GPT-4o", ModelProviderChoices.API, "Azure OpenAI"),
    ("Hosted GPT-4o mini", ModelProviderChoices.API, "Azure OpenAI"),
    ("Claude 3.5 Sonnet", ModelProviderChoices.API, "Anthropic via Bedrock"),
    ("Gemini 1.5 Pro", ModelProviderChoices.API, "Google Vertex AI"),
    ("Mistral Large", ModelProviderChoices.API, "Mistral AI"),
    ("Llama 3.1 70B Instruct", ModelProviderChoices.OPEN_WEIGHTS, "Meta"),
    ("Llama 3.1 8B Instruct", ModelProviderChoices.OPEN_WEIGHTS, "Meta"),
    ("Mixtral 8x7B Instruct", ModelProviderChoices.OPEN_WEIGHTS, "Mistral AI"),
    ("Qwen2 7B Instruct", ModelProviderChoices.OPEN_WEIGHTS, "Alibaba"),
    ("bge-large-en embeddings", ModelProviderChoices.OPEN_WEIGHTS, "BAAI"),
    ("multilingual-e5 embeddings", ModelProviderChoices.OPEN_WEIGHTS, "Microsoft"),
    ("Whisper large-v3", ModelProviderChoices.OPEN_WEIGHTS, "OpenAI"),
    ("LayoutLMv3 document model", ModelProviderChoices.OPEN_WEIGHTS, "Microsoft"),
)
COMPONENTS = ("Shared retrieval layer", "Model serving pipeline", "Central model gateway", "Feature store",
              "Prompt registry", "Evaluation harness", "PII redaction service", "Document loaders",
              "Vector index", "Speech-to-text service", "OCR service", "Experiment tracking",
              "Batch scoring pipeline", "Monitoring and drift alerts", "Human review queue",
              "Translation service", "Guardrails service", "Labelling tool")  # fmt: skip
DATA_SYSTEMS = ("Salesforce: Account", "Salesforce: Opportunity", "ServiceNow: Incident", "Zendesk: Ticket",
                "SAP: Purchase order", "SAP: Invoice", "Workday: Worker", "Confluence: Pages",
                "SharePoint: Documents", "Snowflake: Sales fact", "Snowflake: Web events",
                "Genesys: Call recordings", "Genesys: Queue statistics", "Coupa: Supplier",
                "Jira: Issues", "Core banking: Transactions", "Policy admin: Claims", "MES: Sensor readings",
                "WMS: Stock movements", "Google Drive: Shared drives")  # fmt: skip

# Share of use cases per lifecycle stage (None is a draft) and how many releases each stage tends
# to have relative to the others.
STAGE_MIX = (("proposed", 0.20), ("pilot", 0.30), ("production", 0.24), ("on_hold", 0.05),
             ("retired", 0.07), ("rejected", 0.05), (None, 0.09))  # fmt: skip
RELEASE_WEIGHT = {None: 0.2, "proposed": 0.4, "rejected": 0.3, "on_hold": 1.0, "pilot": 1.2,
                  "production": 2.0, "retired": 1.6}  # fmt: skip
ORPHANED_SHARE = 0.03
INACTIVE_SHARE = 0.04


def _unique(value: str, taken: set[str], *, separator: str = "-") -> str:
    """``value``, or ``value-2``, ``value-3``… if it is taken; the result is then taken too."""
    candidate, n = value, 1
    while candidate in taken:
        n += 1
        candidate = f"{value}{separator}{n}"
    taken.add(candidate)
    return candidate


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _batched(rows: list, size: int = BATCH_SIZE):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _bulk(model, rows: list) -> list:
    """Insert through the base manager: no signals, no per-row audit (see the module docstring)."""
    created = []
    for batch in _batched(rows):
        created.extend(model._base_manager.bulk_create(batch, batch_size=BATCH_SIZE))
    return created


class Portfolio:
    """Generates and inserts the portfolio step by step; keeps what later steps need."""

    def __init__(self, *, rng: random.Random, now, counts: dict, password_hash: str):
        self.rng = rng
        self.now = now
        self.wanted = counts
        self.password_hash = password_hash
        self.created: dict[str, int] = defaultdict(int)

    #
    # Helpers
    #

    def _ago(self, *, min_days: float, max_days: float):
        return self.now - timedelta(days=self.rng.uniform(min_days, max_days))

    def _fill(self, text: str, values: dict) -> str:
        return text.format_map(values)

    def _slot_values(self) -> dict:
        values = {slot: self.rng.choice(options) for slot, options in SLOTS.items()}
        values["other_region"] = self.rng.choice([r for r in SLOTS["region"] if r != values["region"]])
        values.update(
            n=self.rng.choice((25, 40, 50, 80, 120, 200)),
            hours=self.rng.randint(5, 60),
            pct=self.rng.choice((10, 15, 20, 25, 30)),
        )
        return values

    def _taken(self, model, field: str) -> set[str]:
        return set(model._base_manager.values_list(field, flat=True))

    #
    # Steps
    #

    def people(self) -> None:
        User = get_user_model()
        rng = self.rng
        total = self.wanted["users"]
        teams = self.wanted["teams"]
        executives = max(2, total // 160)
        auditors = max(1, total // 250)
        reviewers = max(2, total // 80)
        coe_leads = max(1, total // 700)
        admins = max(1, total // 700)
        # Some leads run two teams, as they do in real companies.
        leads = max(1, min(teams, round(teams * 0.75)))
        members = total - executives - auditors - reviewers - admins - leads
        if members < teams:
            raise CommandError(
                f"{total} people are too few for {teams} teams; pass --users {2 * teams + 40} or more."
            )
        plan = (
            [("executive", (Role.EXECUTIVE,))] * executives
            + [("auditor", (Role.AUDITOR,))] * auditors
            + [("coe-lead", (Role.COE_LEAD, Role.COE_REVIEWER))] * coe_leads
            + [("coe-reviewer", (Role.COE_REVIEWER,))] * (reviewers - coe_leads)
            + [("admin", (Role.ADMIN,))] * admins
            + [("lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER))] * leads
            + [("member", (Role.TEAM_MEMBER,))] * members
        )
        usernames = self._taken(User, "username")
        users = []
        for kind, _roles in plan:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            username = _unique(slugify(f"{first}.{last}".replace(".", "-")).replace("-", "."), usernames)
            if kind == "executive":
                title = rng.choice(EXECUTIVE_TITLES)
            elif kind == "auditor":
                title = rng.choice(("Internal audit", "IT auditor", "Model risk auditor"))
            elif kind in ("coe-lead", "coe-reviewer"):
                title = (
                    "Head of the AI CoE"
                    if kind == "coe-lead"
                    else rng.choice(
                        (
                            "AI CoE reviewer",
                            "Responsible AI lead",
                            "Model risk reviewer",
                            "AI governance analyst",
                        )
                    )
                )
            elif kind == "admin":
                title = "Platform administrator"
            else:
                title = rng.choice(MEMBER_TITLES)
            users.append(
                User(
                    username=username,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@bench.example.com",
                    title=title,
                    password=self.password_hash,
                    is_active=True,
                    is_staff=kind == "admin",
                    is_superuser=kind == "admin",
                    date_joined=self._ago(min_days=30, max_days=2000),
                )
            )
        # People who left: directory sync deactivated them; what they owned becomes orphaned.
        member_positions = [i for i, (kind, _r) in enumerate(plan) if kind == "member"]
        for position in rng.sample(member_positions, round(len(member_positions) * INACTIVE_SHARE)):
            users[position].is_active = False
            users[position].title += " (left)"
        users = _bulk(User, users)
        groups = {group.name: group for group in role_groups(*{r for _k, roles in plan for r in roles})}
        through = User.groups.through
        _bulk(
            through,
            [
                through(user_id=user.pk, group_id=groups[role].pk)
                for user, (_kind, roles) in zip(users, plan, strict=True)
                for role in roles
            ],
        )
        self.users = users
        self.by_kind: dict[str, list] = defaultdict(list)
        for user, (kind, _roles) in zip(users, plan, strict=True):
            self.by_kind[kind].append(user)
        self.created["users"] = len(users)

    def business_units(self) -> None:
        slugs, names = self._taken(BusinessUnit, "slug"), self._taken(BusinessUnit, "name")
        units = []
        for name, _topics in BUSINESS_UNITS:
            unit_name = _unique(name, names, separator=" ")
            units.append(
                BusinessUnit(
                    slug=_unique(slugify(unit_name), slugs),
                    name=unit_name,
                    description=f"{name}: its teams, their AI use cases and the money behind them.",
                    head=self.rng.choice(self.by_kind["executive"]),
                )
            )
        self.units = _bulk(BusinessUnit, units)
        self.topics_of = {
            unit.pk: topics for unit, (_n, topics) in zip(self.units, BUSINESS_UNITS, strict=True)
        }
        self.created["business units"] = len(self.units)

    def teams(self) -> None:
        rng = self.rng
        wanted = self.wanted["teams"]
        slugs, names = self._taken(Team, "slug"), self._taken(Team, "name")
        group_names = self._taken(Group, "name")
        plans = []
        combinations = [
            (unit, f"{topic} {noun}")
            for unit in self.units
            for topic in self.topics_of[unit.pk]
            for noun in TEAM_NOUNS
        ]
        rng.shuffle(combinations)
        for position in range(wanted):
            unit, name = combinations[position % len(combinations)]
            name = _unique(name, names, separator=" ")
            base = slug = slugify(name)[:50]
            n = 1
            while slug in slugs or Team.group_name_for(slug) in group_names:
                n += 1
                slug = f"{base}-{n}"
            slugs.add(slug)
            group_names.add(Team.group_name_for(slug))
            plans.append((unit, name, slug))
        groups = _bulk(Group, [Group(name=Team.group_name_for(slug)) for _u, _n, slug in plans])
        leads = list(self.by_kind["lead"])
        rng.shuffle(leads)
        teams = []
        for position, ((unit, name, slug), group) in enumerate(zip(plans, groups, strict=True)):
            lead = leads[position % len(leads)]
            teams.append(
                Team(
                    slug=slug,
                    name=name,
                    business_unit=unit,
                    description=f"{name} in {unit.name}.",
                    lead=lead,
                    group=group,
                )
            )
        self.teams_ = _bulk(Team, teams)
        # Membership: everyone on a team has a primary team, a fifth a second one; leads are members.
        members_of: dict[int, set[int]] = defaultdict(set)
        for team in self.teams_:
            members_of[team.pk].add(team.lead_id)
        team_people = list(self.by_kind["member"])
        rng.shuffle(team_people)
        for position, person in enumerate(team_people):
            members_of[self.teams_[position % len(self.teams_)].pk].add(person.pk)
            if rng.random() < 0.2:
                members_of[rng.choice(self.teams_).pk].add(person.pk)
        membership = Team.members.through
        _bulk(
            membership,
            [
                membership(team_id=team_pk, user_id=user_pk)
                for team_pk, people in members_of.items()
                for user_pk in people
            ],
        )
        # The group mirrors the membership (inventory.services.usecases.team_set_members).
        group_of = {team.pk: team.group_id for team in self.teams_}
        user_groups = get_user_model().groups.through
        _bulk(
            user_groups,
            [
                user_groups(user_id=user_pk, group_id=group_of[team_pk])
                for team_pk, people in members_of.items()
                for user_pk in people
            ],
        )
        # The lead may change their own team (inventory.services.usecases._grant_lead_permission).
        _app_label, codename = TEAM_LEAD_PERMISSION.split(".")
        team_type = ContentType.objects.get_for_model(Team)
        change_team = Permission.objects.get(content_type=team_type, codename=codename)
        _bulk(
            UserObjectPermission,
            [
                UserObjectPermission(
                    user_id=team.lead_id,
                    permission=change_team,
                    content_type=team_type,
                    object_pk=str(team.pk),
                )
                for team in self.teams_
            ],
        )
        self.members_of = members_of
        self.created["teams"] = len(self.teams_)
        self.created["team memberships"] = sum(len(people) for people in members_of.values())
        self.created["team lead grants"] = len(self.teams_)

    def assets(self) -> None:
        rng = self.rng
        taken = {
            model: self._taken(model, "slug")
            for model in (Environment, Component, DataSource, MLModel, PromptTemplate, Dataset)
        }
        platform = [
            team for team in self.teams_ if "Platform" in team.name or "ML" in team.name
        ] or self.teams_
        for slug, name, kind in (
            ("development", "Development", EnvironmentKindChoices.DEVELOPMENT),
            ("staging", "Staging", EnvironmentKindChoices.STAGING),
            ("production", "Production", EnvironmentKindChoices.PRODUCTION),
        ):
            if slug not in taken[Environment]:
                _bulk(Environment, [Environment(slug=slug, name=name, kind=kind)])
                self.created["environments"] += 1
        self.components = _bulk(
            Component,
            [
                Component(
                    slug=_unique(slugify(name), taken[Component]),
                    name=name,
                    owning_team=rng.choice(platform),
                    description=f"{name}, shared by every team that needs it.",
                    repository_url=f"https://git.example.com/platform/{slugify(name)}",
                    created_at=self._ago(min_days=400, max_days=1200),
                )
                for name in COMPONENTS
            ],
        )
        self.sources = _bulk(
            DataSource,
            [
                DataSource(
                    slug=_unique(slugify(system), taken[DataSource]),
                    name=system.split(": ")[1],
                    system=system,
                    owning_team=rng.choice(self.teams_),
                    sensitivity=rng.choice((_INT, _CONF, _PII)),
                    created_at=self._ago(min_days=400, max_days=1200),
                )
                for system in DATA_SYSTEMS
            ],
        )
        # Foundation models everyone shares, and in-house models per kind of effort.
        models, self.models_for = [], defaultdict(list)
        for name, provider, vendor in FOUNDATION_MODELS:
            models.append(
                (
                    None,
                    MLModel(
                        slug=_unique(slugify(name)[:70], taken[MLModel]),
                        name=name,
                        provider=provider,
                        vendor=vendor,
                        owning_team=rng.choice(platform),
                        created_at=self._ago(min_days=200, max_days=700),
                    ),
                )
            )
        for template in TEMPLATES:
            if template.kind != _P:
                continue
            for n in range(rng.randint(2, 4)):
                name = f"{self._fill(template.names[0], NAMING_SLOTS)} model {n + 1}"
                models.append(
                    (
                        template.slug,
                        MLModel(
                            slug=_unique(slugify(name)[:70], taken[MLModel]),
                            name=name,
                            provider=ModelProviderChoices.IN_HOUSE,
                            owning_team=rng.choice(self.teams_),
                            registry_url=f"https://mlflow.example.com/models/{slugify(name)}",
                            created_at=self._ago(min_days=100, max_days=900),
                        ),
                    )
                )
        created = _bulk(MLModel, [model for _slug, model in models])
        self.foundation = [model for (slug, _m), model in zip(models, created, strict=True) if slug is None]
        for (slug, _m), model in zip(models, created, strict=True):
            if slug is not None:
                self.models_for[slug].append(model)
        versions = []
        for model in created:
            for n in range(rng.randint(2, 7)):
                version = f"{n + 1}.{rng.randint(0, 9)}"
                artifact = f"s3://models/{model.slug}/{version}/model.tar.gz"
                versions.append(
                    ModelVersion(
                        model=model,
                        version=version,
                        artifact_uri=artifact,
                        sha256=_sha256(artifact) if rng.random() < 0.8 else "",  # some lack a digest
                        created_at=model.created_at + timedelta(days=30 * n),
                    )
                )
        self.model_versions = defaultdict(list)
        for version in _bulk(ModelVersion, versions):
            self.model_versions[version.model_id].append(version)
        # Datasets per kind of effort.
        datasets, dataset_template = [], []
        for template in TEMPLATES:
            for n in range(rng.randint(2, 5)):
                region = rng.choice(SLOTS["region"])
                name = f"{self._fill(template.names[0], NAMING_SLOTS)} data, {region} {n + 1}"
                datasets.append(
                    Dataset(
                        slug=_unique(slugify(name)[:70], taken[Dataset]),
                        name=name,
                        owning_team=rng.choice(self.teams_),
                        sensitivity=rng.choice(template.sensitivity),
                        description=f"Training and evaluation data for {template.names[0]}.",
                        created_at=self._ago(min_days=100, max_days=900),
                    )
                )
                dataset_template.append(template.slug)
        datasets = _bulk(Dataset, datasets)
        self.datasets_for = defaultdict(list)
        for slug, dataset in zip(dataset_template, datasets, strict=True):
            self.datasets_for[slug].append(dataset)
        sources = Dataset.sources.through
        _bulk(
            sources,
            [
                sources(dataset_id=dataset.pk, datasource_id=source.pk)
                for dataset in datasets
                for source in rng.sample(self.sources, rng.randint(1, 2))
            ],
        )
        dataset_versions = []
        for dataset in datasets:
            for n in range(rng.randint(2, 6)):
                version = f"{dataset.created_at.year}-{n + 1:02d}"
                location = f"s3://datasets/{dataset.slug}/{version}/"
                dataset_versions.append(
                    DatasetVersion(
                        dataset=dataset,
                        version=version,
                        location=location,
                        sha256=_sha256(location) if rng.random() < 0.85 else "",
                        lineage=""
                        if rng.random() < 0.3
                        else f"Export of {rng.choice(DATA_SYSTEMS)}, deduplicated and "
                        f"filtered to {rng.choice(SLOTS['region'])}.",
                        created_at=dataset.created_at + timedelta(days=45 * n),
                    )
                )
        self.dataset_versions = defaultdict(list)
        for version in _bulk(DatasetVersion, dataset_versions):
            self.dataset_versions[version.dataset_id].append(version)
        self.prompt_taken = taken[PromptTemplate]
        self.created["components"] = len(self.components)
        self.created["data sources"] = len(self.sources)
        self.created["models"] = len(created)
        self.created["model versions"] = len(versions)
        self.created["datasets"] = len(datasets)
        self.created["dataset versions"] = len(dataset_versions)

    def use_cases(self) -> None:
        rng = self.rng
        wanted = self.wanted["use_cases"]
        stages = {stage.key: stage for stage in lifecycle_stage_model().objects.all()}
        missing = {key for key, _share in STAGE_MIX if key is not None} - set(stages)
        if missing:
            raise CommandError(
                f"The lifecycle lacks stage(s) {', '.join(sorted(missing))}; run `propylon migrate`."
            )
        # Some teams are much busier than others.
        team_weights = [rng.paretovariate(1.6) for _team in self.teams_]
        template_weights = [template.weight for template in TEMPLATES]
        sequence = KeySequence.objects.filter(name="usecase").first()
        highest = max(
            (
                int(key.removeprefix(KEY_PREFIX))
                for key in UseCase._base_manager.values_list("key", flat=True)
                if key.removeprefix(KEY_PREFIX).isdigit()
            ),
            default=0,
        )
        first_number = max(highest, sequence.last_value if sequence else 0) + 1
        users_by_pk = {user.pk: user for user in self.users}
        active_members = {
            team.pk: [pk for pk in people if users_by_pk[pk].is_active]
            for team, people in ((t, self.members_of[t.pk]) for t in self.teams_)
        }
        inactive = [user for user in self.users if not user.is_active]
        everyone_active = [user.pk for user in self.users if user.is_active]
        stage_keys = [key for key, _share in STAGE_MIX]
        stage_shares = [share for _key, share in STAGE_MIX]
        orphaned = set(rng.sample(range(wanted), round(wanted * ORPHANED_SHARE))) if inactive else set()
        use_cases, plans = [], []
        recent_purposes: dict[str, list[str]] = defaultdict(list)
        extra_memberships = []
        for position in range(wanted):
            template = rng.choices(TEMPLATES, weights=template_weights)[0]
            team = rng.choices(self.teams_, weights=team_weights)[0]
            values = self._slot_values()
            name = self._fill(rng.choice(template.names), values)
            if rng.random() < 0.35:
                name = f"{name} ({values['region']})" if rng.random() < 0.5 else f"{name} for {team.name}"
            if recent_purposes[template.slug] and rng.random() < 0.04:
                # Someone copied a colleague's description of the same effort almost word for word.
                purpose = rng.choice(recent_purposes[template.slug]) + " Same approach, for our own team."
            else:
                purpose = self._fill(rng.choice(template.purposes), values)
                for sentence in rng.sample(EXTRA_SENTENCES, rng.choice((0, 0, 1, 1, 1, 2))):
                    purpose += " " + self._fill(sentence, values)
            recent_purposes[template.slug] = [*recent_purposes[template.slug][-20:], purpose]
            stage_key = rng.choices(stage_keys, weights=stage_shares)[0]
            assessed = stage_key in ("pilot", "production", "retired") or rng.random() < 0.35
            tier = RiskTierChoices.UNASSESSED
            if assessed:
                tier = template.tier if rng.random() < 0.75 else rng.choice((_MIN, _LIM, _HIGH))
                if tier == _HIGH and rng.random() < 0.05 and stage_key in ("rejected", None, "proposed"):
                    tier = RiskTierChoices.PROHIBITED
            people = active_members[team.pk] or everyone_active
            owner_pk = rng.choice(people)
            if position in orphaned:
                # The accountable owner left the company; they are still listed on the team.
                owner = rng.choice(inactive)
                owner_pk = owner.pk
                if owner_pk not in self.members_of[team.pk]:
                    self.members_of[team.pk].add(owner_pk)
                    extra_memberships.append((team, owner_pk))
            created_at = self._ago(min_days=20, max_days=1100)
            updated_at = created_at + timedelta(days=rng.uniform(0, (self.now - created_at).days))
            slug = slugify(name)[:40]
            use_cases.append(
                UseCase(
                    key=f"{KEY_PREFIX}{first_number + position:04d}",
                    name=name[:200],
                    purpose=purpose,
                    business_unit_id=team.business_unit_id,
                    owning_team=team,
                    lifecycle_stage=stages[stage_key] if stage_key else None,
                    risk_tier=tier,
                    ai_kind=template.kind,
                    customer_facing=rng.random() < template.customer_facing,
                    data_sensitivity=rng.choice(template.sensitivity),
                    human_oversight=rng.choices(HumanOversightChoices.values(), weights=(5, 3, 2, 1))[0],
                    visibility=VisibilityChoices.RESTRICTED
                    if rng.random() < template.restricted
                    else VisibilityChoices.NORMAL,
                    accountable_owner_id=owner_pk,
                    technical_owner_id=rng.choice(people) if rng.random() < 0.7 else None,
                    business_sponsor_id=rng.choice(everyone_active) if rng.random() < 0.5 else None,
                    data_steward_id=rng.choice(everyone_active) if rng.random() < 0.3 else None,
                    escalation_contact_id=rng.choice(people) if rng.random() < 0.3 else None,
                    repository_url=f"https://git.example.com/{team.slug}/{slug}"
                    if rng.random() < 0.7
                    else "",
                    runbook_url=f"https://wiki.example.com/{team.slug}/{slug}-runbook"
                    if rng.random() < 0.4
                    else "",
                    dashboard_url=f"https://grafana.example.com/d/{slug}" if rng.random() < 0.3 else "",
                    tags=sorted(
                        {
                            *rng.sample(template.tags, rng.randint(1, len(template.tags))),
                            *([slugify(values["region"])] if rng.random() < 0.2 else []),
                        }
                    ),
                    created_by_id=owner_pk,
                    created_at=created_at,
                    updated_at=updated_at,
                    submitted_at=created_at + timedelta(days=rng.uniform(0, 14)) if stage_key else None,
                )
            )
            plans.append((template, stage_key))
        if extra_memberships:
            membership = Team.members.through
            user_groups = get_user_model().groups.through
            _bulk(
                membership,
                [membership(team_id=team.pk, user_id=user_pk) for team, user_pk in extra_memberships],
            )
            _bulk(
                user_groups,
                [user_groups(user_id=user_pk, group_id=team.group_id) for team, user_pk in extra_memberships],
            )
        self.use_cases_ = _bulk(UseCase, use_cases)
        self.plans = plans
        last_number = first_number + wanted - 1
        KeySequence.objects.update_or_create(name="usecase", defaults={"last_value": last_number})
        # Shared components and KPIs.
        links = UseCase.components.through
        _bulk(
            links,
            [
                links(usecase_id=uc.pk, component_id=component.pk)
                for uc in self.use_cases_
                if rng.random() < 0.3
                for component in rng.sample(self.components, rng.randint(1, 3))
            ],
        )
        kpis = [
            Kpi(
                use_case=uc,
                name=name,
                unit=unit,
                direction=direction,
                target=rng.choice((5, 10, 15, 25, 80, 90, 95, 500, 1200)),
                value_per_unit=rng.choice((None, 2, 8, 35)),
            )
            for uc in self.use_cases_
            if rng.random() < 0.35
            for name, unit, direction in rng.sample(KPI_CHOICES, rng.randint(1, 3))
        ]
        _bulk(Kpi, kpis)
        self.created["use cases"] = len(self.use_cases_)
        self.created["restricted use cases"] = sum(
            uc.visibility == VisibilityChoices.RESTRICTED for uc in use_cases
        )
        self.created["orphaned use cases"] = len(orphaned)
        self.created["draft use cases"] = sum(stage is None for _t, stage in plans)
        self.created["kpis"] = len(kpis)
        self.key_range = (use_cases[0].key, use_cases[-1].key) if use_cases else ("", "")

    def object_permissions(self) -> None:
        """The owning team's group holds view/change/delete on each use case
        (inventory.services.usecases._grant_team_permissions), written as guardian rows directly."""
        use_case_type = ContentType.objects.get_for_model(UseCase)
        permissions = list(
            Permission.objects.filter(
                content_type=use_case_type, codename__in=("view_usecase", "change_usecase", "delete_usecase")
            )
        )
        group_of = {team.pk: team.group_id for team in self.teams_}
        rows = [
            GroupObjectPermission(
                group_id=group_of[uc.owning_team_id],
                permission=permission,
                content_type=use_case_type,
                object_pk=str(uc.pk),
            )
            for uc in self.use_cases_
            for permission in permissions
        ]
        _bulk(GroupObjectPermission, rows)
        self.created["use case grants"] = len(rows)

    def releases(self) -> None:
        rng = self.rng
        total = self.wanted["releases"]
        weights = [RELEASE_WEIGHT[stage] * rng.uniform(0.4, 1.6) for _template, stage in self.plans]
        scale = total / sum(weights) if weights else 0
        counts = [math.floor(weight * scale) for weight in weights]
        for position in rng.sample(range(len(counts)), total - sum(counts)) if counts else ():
            counts[position] += 1
        prompt_rows, prompt_versions_of = [], {}
        generative = (_G, _A)
        # Generative efforts keep their prompts in the registry; about half of them do.
        for uc, (template, _stage), count in zip(self.use_cases_, self.plans, counts, strict=True):
            if template.kind in generative and count and rng.random() < 0.5:
                prompt_rows.append(
                    (
                        uc,
                        PromptTemplate(
                            slug=_unique(f"{uc.key.lower()}-system-prompt", self.prompt_taken),
                            name=f"{uc.name} system prompt",
                            owning_team_id=uc.owning_team_id,
                            created_at=uc.created_at,
                        ),
                    )
                )
        templates = _bulk(PromptTemplate, [row for _uc, row in prompt_rows])
        prompt_versions = []
        for (uc, _row), prompt in zip(prompt_rows, templates, strict=True):
            for n in range(rng.randint(1, 5)):
                content = (
                    f"You are the {uc.name} assistant of {uc.owning_team_id}. Answer only from the provided "
                    f"context; say you do not know otherwise. Revision {n + 1}."
                )
                prompt_versions.append(
                    PromptVersion(
                        template=prompt,
                        version=f"v{n + 1}",
                        content=content,
                        content_sha256=_sha256(content),
                        created_at=uc.created_at + timedelta(days=20 * n),
                    )
                )
        created_prompt_versions = _bulk(PromptVersion, prompt_versions)
        for version in created_prompt_versions:
            prompt_versions_of.setdefault(version.template_id, []).append(version)
        prompt_of = {
            uc.pk: prompt_versions_of.get(prompt.pk, [])
            for (uc, _r), prompt in zip(prompt_rows, templates, strict=True)
        }
        release_total = pinned_models = pinned_datasets = pinned_prompts = frozen = 0
        model_through = Release.model_versions.through
        dataset_through = Release.dataset_versions.through
        prompt_through = Release.prompt_versions.through
        # Chunks of use cases bound the memory: 50,000 releases never sit in memory at once.
        chunk = 500
        for start in range(0, len(self.use_cases_), chunk):
            releases, pins = [], []
            for uc, (template, stage), count in zip(
                self.use_cases_[start : start + chunk],
                self.plans[start : start + chunk],
                counts[start : start + chunk],
                strict=True,
            ):
                if not count:
                    continue
                if template.kind == _P:
                    models = (
                        rng.sample(self.models_for[template.slug], 1)
                        if self.models_for[template.slug]
                        else []
                    )
                else:
                    models = rng.sample(self.foundation, rng.randint(1, 2))
                datasets = rng.sample(
                    self.datasets_for[template.slug],
                    min(
                        len(self.datasets_for[template.slug]),
                        rng.randint(1, 2) if template.kind == _P else rng.choice((0, 0, 1)),
                    ),
                )
                pin_share = 0.9 if stage in ("pilot", "production", "retired") else 0.4
                span = max((self.now - uc.created_at).total_seconds(), 3600)
                for n in range(count):
                    created_at = uc.created_at + timedelta(seconds=span * (n + rng.random()) / count)
                    is_frozen = stage in ("pilot", "production", "retired") and (
                        n == count - 1 or rng.random() < 0.3
                    )
                    release = Release(
                        use_case=uc,
                        version=f"{1 + n // 4}.{n % 4}.0",
                        code_ref=f"{rng.getrandbits(160):040x}",
                        notes=rng.choice(
                            (
                                "",
                                "",
                                "Bug fixes.",
                                "New prompt and guardrails.",
                                "Retrained on fresh data.",
                                "Threshold tuned after review.",
                                "Dependency upgrades.",
                            )
                        ),
                        created_by_id=uc.accountable_owner_id,
                        created_at=created_at,
                        frozen_at=min(self.now, created_at + timedelta(days=rng.uniform(1, 10)))
                        if is_frozen
                        else None,
                        frozen_reason=rng.choice(("pilot gate approval", "production deployment"))
                        if is_frozen
                        else "",
                    )
                    frozen += is_frozen
                    releases.append(release)
                    if rng.random() < pin_share:
                        progress = (n + 1) / count
                        pins.append(
                            (
                                release,
                                [self._pick(self.model_versions[m.pk], progress) for m in models],
                                [self._pick(self.dataset_versions[d.pk], progress) for d in datasets],
                                [self._pick(prompt_of[uc.pk], progress)] if prompt_of.get(uc.pk) else [],
                            )
                        )
            _bulk(Release, releases)
            model_rows = [
                model_through(release_id=r.pk, modelversion_id=v.pk) for r, ms, _d, _p in pins for v in ms
            ]
            dataset_rows = [
                dataset_through(release_id=r.pk, datasetversion_id=v.pk) for r, _m, ds, _p in pins for v in ds
            ]
            prompt_rows_ = [
                prompt_through(release_id=r.pk, promptversion_id=v.pk) for r, _m, _d, ps in pins for v in ps
            ]
            _bulk(model_through, model_rows)
            _bulk(dataset_through, dataset_rows)
            _bulk(prompt_through, prompt_rows_)
            release_total += len(releases)
            pinned_models += len(model_rows)
            pinned_datasets += len(dataset_rows)
            pinned_prompts += len(prompt_rows_)
        self.created["prompt templates"] = len(templates)
        self.created["prompt versions"] = len(prompt_versions)
        self.created["releases"] = release_total
        self.created["frozen releases"] = frozen
        self.created["pinned model versions"] = pinned_models
        self.created["pinned dataset versions"] = pinned_datasets
        self.created["pinned prompt versions"] = pinned_prompts

    @staticmethod
    def _pick(versions: list, progress: float):
        # Later releases pin later versions.
        return versions[min(len(versions) - 1, int(progress * len(versions)))]


class Command(BaseCommand):
    help = (
        "Build the DESIGN.md §6 benchmark portfolio (5,000 use cases, 400 teams, 2,000 people, 50,000 "
        "releases by default) with bulk inserts, on PostgreSQL. For benchmark databases only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--use-cases", type=int, default=5000, help="Use cases (default 5000).")
        parser.add_argument("--teams", type=int, default=400, help="Teams (default 400).")
        parser.add_argument("--users", type=int, default=2000, help="People (default 2000).")
        parser.add_argument("--releases", type=int, default=50_000, help="Releases in all (default 50000).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed: same seed, same portfolio.")
        parser.add_argument(
            "--password",
            default="",
            help="One password for every seeded account (default: none; accounts cannot sign in with a "
            "password, the benchmark logs in directly).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even though the database already has use cases (adds to them; deletes nothing).",
        )
        parser.add_argument(
            "--allow-sqlite",
            action="store_true",
            help=f"Run on SQLite for a try-out, with at most {SQLITE_MAX_USE_CASES} use cases and "
            f"{SQLITE_MAX_RELEASES} releases.",
        )

    def handle(self, *args, **options):
        counts = {
            "use_cases": options["use_cases"],
            "teams": options["teams"],
            "users": options["users"],
            "releases": options["releases"],
        }
        for name, value in counts.items():
            if value < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1, not {value}.")
        self._check_database(counts, allow_sqlite=options["allow_sqlite"], force=options["force"])
        self.timings: list[tuple[str, float]] = []
        password_hash = make_password(options["password"] or None)
        portfolio = Portfolio(
            rng=random.Random(options["seed"]),  # noqa: S311  (synthetic data, not secrets)
            now=timezone.now(),
            counts=counts,
            password_hash=password_hash,
        )
        started = time.perf_counter()
        self.stdout.write(
            f"Seeding {counts['use_cases']:,} use cases, {counts['teams']:,} teams, {counts['users']:,} people "
            f"and {counts['releases']:,} releases (seed {options['seed']}) into "
            f"{connection.vendor} database {connection.settings_dict['NAME']!r}."
        )
        with (
            audit_context(channel=ChannelChoices.COMMAND, label="propylon seed_benchmark"),
            transaction.atomic(),
        ):
            with self._step("People and roles"):
                portfolio.people()
            with self._step("Business units"):
                portfolio.business_units()
            with self._step("Teams, groups, memberships, lead grants"):
                portfolio.teams()
            with self._step("Components, data sources, models, datasets and versions"):
                portfolio.assets()
            with self._step("Use cases, component links, KPIs, key sequence"):
                portfolio.use_cases()
            with self._step("Use case object permissions (guardian)"):
                portfolio.object_permissions()
            with self._step("Prompts, releases and pinned versions"):
                portfolio.releases()
            with self._step("Summary audit entry"):
                # Bulk inserts send no signals: this one entry is the trail's record of them all.
                record(
                    AuditActionChoices.IMPORT,
                    message="Benchmark portfolio seeded",
                    extra={
                        "seed": options["seed"],
                        "keys": list(portfolio.key_range),
                        "counts": dict(portfolio.created),
                    },
                )
        with self._step("VACUUM ANALYZE (planner statistics, visibility map)"):
            self._analyze()
        total = time.perf_counter() - started
        self.stdout.write("")
        self.stdout.write("Created:")
        for name, value in portfolio.created.items():
            self.stdout.write(f"  {name:<26} {value:>8,}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Benchmark portfolio seeded in {total:.1f} s: {portfolio.key_range[0]}…{portfolio.key_range[1]}."
            )
        )

    def _check_database(self, counts: dict, *, allow_sqlite: bool, force: bool) -> None:
        if connection.vendor == "sqlite":
            if not allow_sqlite:
                raise CommandError(
                    "seed_benchmark builds the DESIGN.md §6 portfolio for PostgreSQL, where the benchmark "
                    "runs; this is SQLite. Point DATABASE_URL at a PostgreSQL database (bench/README.md), or "
                    f"pass --allow-sqlite with at most {SQLITE_MAX_USE_CASES} use cases and "
                    f"{SQLITE_MAX_RELEASES} releases to try it out."
                )
            if counts["use_cases"] > SQLITE_MAX_USE_CASES or counts["releases"] > SQLITE_MAX_RELEASES:
                raise CommandError(
                    f"On SQLite seed at most {SQLITE_MAX_USE_CASES} use cases and {SQLITE_MAX_RELEASES} "
                    "releases, e.g. --allow-sqlite --use-cases 500 --teams 40 --users 200 --releases 5000."
                )
        elif connection.vendor != "postgresql":
            raise CommandError(
                f"seed_benchmark supports PostgreSQL (and SQLite for a try-out), not {connection.vendor}."
            )
        existing = UseCase._base_manager.count()
        if existing and not force:
            raise CommandError(
                f"This database already has {existing:,} use case(s). seed_benchmark is meant for an empty "
                "benchmark database (createdb, migrate, seed: see bench/README.md) and refuses to mix its "
                "synthetic portfolio into real or demo data. Pass --force to add it anyway: nothing is "
                "deleted, new keys continue after the existing ones and clashing names get a suffix."
            )

    @contextmanager
    def _step(self, label: str):
        self.stdout.write(f"  {label}…", ending="")
        self.stdout.flush()
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.timings.append((label, elapsed))
        self.stdout.write(f" {elapsed:.2f} s")

    def _analyze(self) -> None:
        # Fresh tables have no statistics and no visibility map until autovacuum gets to them:
        # the planner guesses, index-only scans visit the heap, and autovacuum may start in the
        # middle of a benchmark run. Doing it now measures the steady state a live database is in.
        with connection.cursor() as cursor:
            # VACUUM cannot run inside a transaction (call_command from a test, say).
            vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
            cursor.execute("VACUUM (ANALYZE)" if vacuum else "ANALYZE")
