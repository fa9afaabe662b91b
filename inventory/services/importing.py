"""Bulk import of use cases from the spreadsheet a company starts from (CSV or XLSX).

Three steps, so a person sees what will happen before anything is written:

1. :func:`parse_upload` reads the file: the type is checked by extension *and* content, the
   size and row count against their limits, the header against the required columns.
2. :func:`validate_rows` checks every row and collects every problem as (row, column,
   message), with rows numbered as the spreadsheet shows them (the header is row 1). The
   preview lists what would be created and what would change.
3. :func:`commit_import` validates again (the data may have moved since the preview) and
   writes everything in one transaction through the same services as the UI, or nothing.

What an empty cell means: people, links and tags have an empty value, so an empty cell clears
them. Choices and flags always hold a value (risk tier, oversight, visibility, customer
facing, stage), so an empty cell keeps the current value, or the default for a new use case.
A column that is not in the file at all changes nothing.

Cells are data, never formulas: ``=SUM(A1)`` imports as that text. A leading apostrophe in
front of a formula character is the spreadsheet-injection guard our own exports add
(portal.exports.safe_cell); it is removed so an export re-imports unchanged.

The planning core (resolving teams, people and choices, permission checks, the create/update
plan and applying it) is shared with the YAML descriptors in ``inventory.services.descriptors``.
"""

import contextlib
import csv
import io
import re
import reprlib
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower

from inventory.choices import (
    AIKindChoices,
    DataSensitivityChoices,
    HumanOversightChoices,
    RiskTierChoices,
    VisibilityChoices,
)
from inventory.models import KeySequence, Team, UseCase
from inventory.models.usecases import KEY_PREFIX, lifecycle_stage_model
from inventory.services.usecases import (
    INTAKE_STAGE_KEY,
    ONBOARDING_ROLES,
    USE_CASE_OPTIONAL_FIELDS,
    normalise_tags,
    usecase_create,
    usecase_onboard_at_stage,
    usecase_submit,
    usecase_update,
)
from portal import audit
from portal.exports import FORMULA_TRIGGERS
from portal.permissions import Action, can_add, restrict
from portal.roles import Role, has_role

# Limits of one import. Every row below the header counts, empty or not (a sheet can store a
# million formatted empty rows), and so does every cell read: a row is read only as wide as
# the header, and the header only as wide as MAX_IMPORT_COLUMNS.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5_000
MAX_IMPORT_COLUMNS = 100
MAX_IMPORT_CELLS = 250_000
# What a web request reads itself; a larger file is checked and imported by a background job
# (inventory.tasks), so no request parses more than this.
MAX_REQUEST_BYTES = 512 * 1024
MAX_REQUEST_ROWS = 300
MAX_REQUEST_CELLS = 20_000
MAX_REQUEST_UNPACKED_BYTES = 8 * 1024 * 1024
# An XLSX is a zip: 5 MB of it can unpack to gigabytes of XML. Real workbooks of 5,000 rows
# unpack to a few tens of megabytes. The sizes are read from the zip's directory before any
# part is opened; a part that claims to unpack more than MAX_XLSX_RATIO times its packed size
# is a zip bomb (real sheets compress 5-30 times; padded or repeated rows up to ~100).
MAX_XLSX_UNPACKED_BYTES = 60 * 1024 * 1024
MAX_XLSX_RATIO = 200
XLSX_RATIO_CHECKED_FROM = 1024 * 1024  # tiny parts may compress a lot; they cannot hurt

IMPORT_COLUMNS = (
    "key",
    "name",
    "purpose",
    "team",
    "accountable_owner",
    "technical_owner",
    "business_sponsor",
    "data_steward",
    "escalation_contact",
    "ai_kind",
    "data_sensitivity",
    "customer_facing",
    "human_oversight",
    "visibility",
    "risk_tier",
    "stage",
    "repository_url",
    "runbook_url",
    "dashboard_url",
    "tags",
)
REQUIRED_COLUMNS = ("name", "purpose", "team", "accountable_owner", "ai_kind", "data_sensitivity")
# Other spellings people use for a column (after lower-casing and spaces → underscores).
COLUMN_ALIASES = {"owning_team": "team", "lifecycle_stage": "stage", "accountable": "accountable_owner"}

PEOPLE_FIELDS = (
    "accountable_owner",
    "technical_owner",
    "business_sponsor",
    "data_steward",
    "escalation_contact",
)
URL_FIELDS = ("repository_url", "runbook_url", "dashboard_url")
CHOICE_FIELDS = {
    "ai_kind": AIKindChoices,
    "data_sensitivity": DataSensitivityChoices,
    "human_oversight": HumanOversightChoices,
    "visibility": VisibilityChoices,
    "risk_tier": RiskTierChoices,
}
CHOICE_NOUNS = {
    "ai_kind": "an AI kind",
    "data_sensitivity": "a data sensitivity",
    "human_oversight": "a human-oversight mode",
    "visibility": "a visibility",
    "risk_tier": "a risk tier",
}
# Fields that always hold a value: an empty cell keeps the current one (or the default).
DEFAULTED_FIELDS = ("customer_facing", "human_oversight", "visibility", "risk_tier")
TRUE_WORDS = frozenset({"yes", "y", "true", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "0"})
DRAFT = "draft"
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}?(\d{{1,9}})$", re.IGNORECASE)
NAME_MAX_LENGTH = UseCase._meta.get_field("name").max_length
URL_MAX_LENGTH = UseCase._meta.get_field("repository_url").max_length

__all__ = [
    "IMPORT_COLUMNS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "REQUIRED_COLUMNS",
    "ImportFileError",
    "ImportPreview",
    "ImportResult",
    "ParsedSheet",
    "PreviewRow",
    "RowError",
    "SheetRow",
    "commit_import",
    "parse_upload",
    "validate_rows",
]


#
# Reading the file
#


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (type, encoding, size, header). Names the file."""

    def __init__(self, filename: str, message: str):
        self.filename = filename
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class ImportTooLarge(ImportFileError):
    """The file exceeds the limits it was read with (bytes, rows or cells)."""


@dataclass(frozen=True)
class ImportLimits:
    bytes: int
    rows: int
    cells: int
    columns: int
    unpacked: int  # an XLSX's parts, as its zip directory declares them

    @classmethod
    def full(cls) -> "ImportLimits":
        """The limits of one import (read when called, so settings and tests may change them)."""
        return cls(
            MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, MAX_IMPORT_CELLS, MAX_IMPORT_COLUMNS, MAX_XLSX_UNPACKED_BYTES
        )

    @classmethod
    def request(cls) -> "ImportLimits":
        """What a web request reads before it hands the file to a job."""
        full = cls.full()
        return cls(
            min(MAX_REQUEST_BYTES, full.bytes),
            min(MAX_REQUEST_ROWS, full.rows),
            min(MAX_REQUEST_CELLS, full.cells),
            full.columns,
            min(MAX_REQUEST_UNPACKED_BYTES, full.unpacked),
        )


class _Budget:
    """Counts the rows and cells read and stops the reading at the limits."""

    def __init__(self, limits: ImportLimits, filename: str):
        self.limits = limits
        self.filename = filename
        self.rows = 0
        self.cells = 0

    def row(self, width: int) -> None:
        self.rows += 1
        self.cells += width
        if self.rows > self.limits.rows + 1:  # + the header
            raise ImportTooLarge(
                self.filename,
                f"{self.filename} has more than {self.limits.rows:,} rows; the limit is {self.limits.rows:,} "
                "use cases per import, and empty rows count too (delete them). Split it into smaller files.",
            )
        if self.cells > self.limits.cells:
            raise ImportTooLarge(
                self.filename,
                f"{self.filename} has more than {self.limits.cells:,} cells in its rows; the limit is "
                f"{self.limits.cells:,} per import. Delete unused columns and empty rows, or split the file.",
            )


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict[str, str]  # canonical column name → cell text (known columns only)


@dataclass
class ParsedSheet:
    filename: str
    file_type: str  # "csv" or "xlsx"
    encoding: str  # how a CSV was decoded (e.g. "UTF-8 with BOM"); "" for XLSX
    columns: list[str]  # the known columns present, in the file's order
    rows: list[SheetRow]
    warnings: list[str] = field(default_factory=list)
    cells_read: int = field(
        default=0, compare=False
    )  # the work done reading it (every cell of every row read, empty or not)

    def as_dict(self) -> dict:
        """Plain data, e.g. to keep the sheet in the session between preview and confirm."""
        return {
            "filename": self.filename,
            "file_type": self.file_type,
            "encoding": self.encoding,
            "columns": list(self.columns),
            "rows": [[row.number, row.values] for row in self.rows],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ParsedSheet":
        return cls(
            filename=data["filename"],
            file_type=data["file_type"],
            encoding=data["encoding"],
            columns=list(data["columns"]),
            rows=[SheetRow(number=number, values=dict(values)) for number, values in data["rows"]],
            warnings=list(data.get("warnings", [])),
        )


def parse_upload(uploaded_file, filename: str, *, limits: ImportLimits | None = None) -> ParsedSheet:
    """Read an uploaded CSV or XLSX into rows of text. Raises :class:`ImportFileError`, and
    :class:`ImportTooLarge` when the file exceeds ``limits`` (by default those of one import).

    ``uploaded_file`` is bytes or a binary file object (Django's UploadedFile, an open file).
    """
    limits = limits or ImportLimits.full()
    filename = PurePath(str(filename or "upload")).name
    budget = _Budget(limits, filename)
    content = _read_limited(uploaded_file, filename, limits.bytes)
    if not content.strip():
        raise ImportFileError(filename, f"{filename} is empty: there is no header row and no data.")
    extension = PurePath(filename).suffix.lower()
    if extension == ".csv":
        table, encoding, warnings = _csv_records(content, filename)
        file_type = "csv"
    elif extension == ".xlsx":
        table, warnings = _xlsx_records(content, filename, budget)
        encoding, file_type = "", "xlsx"
    else:
        hint = " Save old .xls workbooks as .xlsx first." if extension == ".xls" else ""
        raise ImportFileError(
            filename,
            f"Bad file type: {filename} is not a .csv or .xlsx file. Upload the use cases as CSV or as an "
            f"Excel workbook (.xlsx).{hint}",
        )
    sheet = _sheet_from_records(
        table, filename=filename, file_type=file_type, encoding=encoding, warnings=warnings, budget=budget
    )
    sheet.cells_read = budget.cells
    return sheet


def _read_limited(uploaded_file, filename: str, limit: int) -> bytes:
    too_big = ImportTooLarge(
        filename,
        f"{filename} is larger than the {_size_label(limit)} limit for one import; split it into smaller files.",
    )
    if isinstance(uploaded_file, (bytes, bytearray, memoryview)):
        content = bytes(uploaded_file)
    else:
        size = getattr(uploaded_file, "size", None)
        if isinstance(size, int) and size > limit:
            raise too_big
        if hasattr(uploaded_file, "seek"):
            # A stream that cannot rewind is read from where it is.
            with contextlib.suppress(OSError, ValueError):
                uploaded_file.seek(0)
        content = uploaded_file.read(limit + 1)
        if isinstance(content, str):
            content = content.encode()
    if len(content) > limit:
        raise too_big
    return content


def _size_label(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def _csv_records(content: bytes, filename: str) -> tuple[Iterator[list], str, list[str]]:
    if content.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            filename,
            f"Bad file type: {filename} is an Excel workbook or another zip file, not CSV text. "
            "If it is a workbook, name it .xlsx.",
        )
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            filename,
            f"{filename} is UTF-16 text; imports read UTF-8 (with or without BOM) or Windows-1252 (cp1252). "
            "Save it as “CSV UTF-8” and upload it again.",
        )
    if _looks_binary(content):
        raise ImportFileError(
            filename,
            f"Bad file type: {filename} is not CSV text (it contains binary data). Export the sheet as "
            "“CSV UTF-8” and upload that.",
        )
    warnings = []
    if content.startswith(b"\xef\xbb\xbf"):
        text, encoding = _decode(content, "utf-8-sig"), "UTF-8 with BOM"
    else:
        text, encoding = _decode(content, "utf-8"), "UTF-8"
    if text is None:
        text, encoding = _decode(content, "cp1252"), "Windows-1252 (cp1252)"
        if text is None:
            raise ImportFileError(
                filename,
                f"{filename} is neither UTF-8 nor Windows-1252 (cp1252) text. Save it as “CSV UTF-8” "
                "and upload it again.",
            )
        warnings.append(
            f"{filename} is not UTF-8; it was read as Windows-1252 (cp1252). Check accented names in the preview."
        )
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first_line.count) if first_line else ","
    if first_line.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def records() -> Iterator[list]:
        try:
            yield from reader
        except csv.Error as exc:
            raise ImportFileError(
                filename, f"{filename}, row {reader.line_num}: the CSV cannot be read ({exc})."
            ) from None

    return records(), encoding, warnings


def _looks_binary(content: bytes) -> bool:
    # Text files never contain NUL or most C0 control characters; images and archives do early.
    sample = content[:8192]
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    return b"\x00" in sample or controls > 0


def _decode(content: bytes, encoding: str) -> str | None:
    try:
        return content.decode(encoding)
    except UnicodeDecodeError:
        return None


def _xlsx_records(content: bytes, filename: str, budget: _Budget) -> tuple[Iterator[list], list[str]]:
    import openpyxl

    not_a_workbook = ImportFileError(
        filename,
        f"Bad file type: {filename} is not a valid Excel workbook (.xlsx). Open it in a spreadsheet "
        "and save it as “Excel Workbook (.xlsx)” without a password, or export it as CSV.",
    )
    if not content.startswith(b"PK\x03\x04"):
        raise not_a_workbook
    try:
        # Only the zip's directory is read here: the sizes it declares, before any part is unpacked.
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise not_a_workbook from None
    if "xl/workbook.xml" not in {part.filename for part in parts}:
        raise not_a_workbook
    unpacked = sum(part.file_size for part in parts)
    bomb = next(
        (
            part
            for part in parts
            if part.file_size > XLSX_RATIO_CHECKED_FROM
            and part.file_size > MAX_XLSX_RATIO * max(part.compress_size, 1)
        ),
        None,
    )
    if unpacked > budget.limits.unpacked or bomb is not None:
        raise ImportTooLarge(
            filename,
            f"{filename} unpacks to {_size_label(bomb.file_size if bomb else unpacked)}"
            + (f" from {_size_label(bomb.compress_size)} ({bomb.filename})" if bomb else "")
            + f"; the limit is {_size_label(budget.limits.unpacked)} unpacked and {MAX_XLSX_RATIO} times "
            "the packed size. Delete unused rows and columns, or split it into smaller files.",
        )
    try:
        # data_only=False: a formula cell reads as its text (“=SUM(A1)”), never as a computed value.
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for damaged files; to the person they are one problem
        raise not_a_workbook from None
    warnings = []
    if not workbook.worksheets:
        workbook.close()
        raise ImportFileError(filename, f"{filename} has no worksheet.")
    sheet = workbook.worksheets[0]
    if len(workbook.sheetnames) > 1:
        warnings.append(
            f"{filename} has {len(workbook.sheetnames)} sheets; only the first, “{sheet.title}”, was read."
        )

    def rows(min_row: int, width: int) -> Iterator[list]:
        # max_col bounds the row: openpyxl pads every row up to it, and without it a single
        # cell in column XFD makes every row 16,384 cells long. Missing rows come as empty ones.
        for row in sheet.iter_rows(min_row=min_row, max_col=width, values_only=True):
            budget.row(len(row))
            yield [_xlsx_text(value) for value in row]

    def records() -> Iterator[list]:
        try:
            # Some writers store a wrong sheet size; read every row the file really has.
            sheet.reset_dimensions()
            # First the header, at most MAX_IMPORT_COLUMNS wide; then the rows, only as wide as
            # the header's last titled column.
            header_number, header = 0, []
            for header_number, record in enumerate(rows(1, budget.limits.columns), start=1):  # noqa: B007
                if any(cell.strip() for cell in record):
                    header = record
                    break
            if not header:
                return
            width = max(position for position, title in enumerate(header, start=1) if title.strip())
            yield header[:width]
            yield from rows(header_number + 1, width)
        except ImportFileError:
            raise
        except Exception:  # a damaged sheet part surfaces only while reading rows
            raise not_a_workbook from None
        finally:
            workbook.close()

    return records(), warnings


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


SHOWN_MAX_CHARACTERS = 80
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 5, 5
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = SHOWN_MAX_CHARACTERS


def shorten(value: Any, limit: int = SHOWN_MAX_CHARACTERS) -> str:
    """A value from a file as text for a message, cut to ``limit`` characters.

    Messages quote what the person wrote so they can find it; the value itself may be a
    megabyte cell or an expanded structure, and a message must never grow with the input.
    """
    text = (_SHORT_REPR.repr(value) if isinstance(value, (list, tuple, dict, set)) else str(value)).strip()
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def normalise_column(header: str) -> str:
    """'Accountable Owner*' → 'accountable_owner'; spaces, hyphens and underscores are the same."""
    name = re.sub(r"[\s\-_]+", "_", str(header).strip().rstrip("*").strip().lower())
    return COLUMN_ALIASES.get(name, name)


def _unguard(text: str) -> str:
    """Remove the apostrophe our exports put before a formula character (see safe_cell)."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def _sheet_from_records(
    records: Iterable[list],
    *,
    filename: str,
    file_type: str,
    encoding: str,
    warnings: list[str],
    budget: _Budget,
) -> ParsedSheet:
    header_number, header = None, None
    rows: list[SheetRow] = []
    positions: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        if file_type == "csv":
            budget.row(len(record))  # the XLSX reader counts its own rows (it skips the padding)
        if header is None:
            cells = [str(cell).strip() for cell in record[: budget.limits.columns]]
            if not any(cells):
                continue
            header_number, header = number, cells
            positions = _header_positions(header, filename=filename, number=number, warnings=warnings)
            continue
        # Only the header's columns are read; anything to the right of them is ignored.
        values = {
            column: _unguard(str(record[position]).strip()) if position < len(record) else ""
            for column, position in positions.items()
        }
        if not any(values.values()):
            continue
        rows.append(SheetRow(number=number, values=values))
    if header is None:
        raise ImportFileError(filename, f"{filename} is empty: there is no header row and no data.")
    if not rows:
        raise ImportFileError(
            filename, f"{filename} has a header (row {header_number}) but no rows of use cases below it."
        )
    return ParsedSheet(
        filename=filename,
        file_type=file_type,
        encoding=encoding,
        columns=list(positions),
        rows=rows,
        warnings=warnings,
    )


def _header_positions(
    header: list[str], *, filename: str, number: int, warnings: list[str]
) -> dict[str, int]:
    positions: dict[str, int] = {}
    unknown = []
    for position, title in enumerate(header):
        if not title:
            continue
        column = normalise_column(title)
        if column in positions:
            raise ImportFileError(
                filename,
                f"{filename}, row {number}: the column “{shorten(title)}” appears twice; keep one of them.",
            )
        if column in IMPORT_COLUMNS:
            positions[column] = position
        else:
            unknown.append(title)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        found = shorten(", ".join(title for title in header if title) or "none", 400)
        raise ImportFileError(
            filename,
            f"{filename} is missing the required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}. Columns found in row {number}: {found}. Required: "
            f"{', '.join(REQUIRED_COLUMNS)}.",
        )
    if unknown:
        warnings.append(
            f"Unknown column{'s' if len(unknown) > 1 else ''} ignored: {shorten(', '.join(unknown), 400)}. "
            f"Known columns: {', '.join(IMPORT_COLUMNS)}."
        )
    return positions


#
# Planning: shared with the YAML descriptors
#


@dataclass
class Plan:
    """What one row (or descriptor) asks for, resolved against the database.

    ``values`` holds model field values: every requested field for a create, only the changed
    ones for an update. ``changes`` shows them as text (field → (before, after)). ``errors``
    are (field, message) with the intent's field names (the import's column names).
    """

    action: str = "create"  # create | update | unchanged
    key: str = ""  # the key asked for, or the matched use case's key
    use_case: UseCase | None = None
    team: Team | None = None
    name: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    submit: bool = False
    onboard_stage: Any = None  # a LifecycleStage past intake: an attested onboarding (admins, CoE leads)
    key_assigned: bool = False  # a create without a key: the sequence hands one out
    errors: list[tuple[str, str]] = field(default_factory=list)

    def error(self, field_name: str, message: str) -> None:
        self.errors.append((field_name, message))


class Lookups:
    """Everything the planner needs, loaded in a constant number of queries for the batch."""

    def __init__(self, *, user, intents: list[dict], lock: bool = False):
        self.user = user
        self.is_admin = has_role(user, Role.ADMIN)
        # Onboarding a portfolio: administrators and CoE leads import into any team, at any stage.
        self.may_onboard = may_onboard(user)
        self.may_add = can_add(user, UseCase) or self.may_onboard
        teams = list(Team.objects.only("pk", "slug", "name", "business_unit_id"))
        self.teams_by_slug = {team.slug.lower(): team for team in teams}
        self.teams_by_name = {team.name: team for team in teams}
        self.teams_by_folded_name = {team.name.casefold(): team for team in teams}
        self.my_team_ids = (
            set(Team.objects.filter(group__user=user).values_list("pk", flat=True)) if user else set()
        )
        self.stages = {stage.key.lower(): stage for stage in lifecycle_stage_model().objects.all()}
        # Every key ever used is at most this (chosen keys advance the sequence too).
        self.last_key_number = (
            KeySequence.objects.filter(name="usecase").values_list("last_value", flat=True).first() or 0
        )

        keys = {key for intent in intents if (key := _normalise_key(intent.get("key")))}
        team_ids = {team.pk for intent in intents if (team := self.team(intent.get("team")))}
        existing = UseCase.objects.select_related("owning_team", "lifecycle_stage", *PEOPLE_FIELDS).filter(
            Q(key__in=keys) | Q(owning_team_id__in=team_ids)
        )
        if lock:
            existing = existing.select_for_update(of=("self",))
        self.use_cases = list(existing)
        self.by_key = {use_case.key: use_case for use_case in self.use_cases}
        self.by_team_name: dict[tuple[int, str], list[UseCase]] = defaultdict(list)
        for use_case in self.use_cases:
            self.by_team_name[(use_case.owning_team_id, use_case.name.strip().casefold())].append(use_case)
        pks = [use_case.pk for use_case in self.use_cases]
        self.visible = set(
            restrict(UseCase.objects.filter(pk__in=pks), user, Action.VIEW).values_list("pk", flat=True)
        )
        self.changeable = set(
            restrict(UseCase.objects.filter(pk__in=pks), user, Action.CHANGE).values_list("pk", flat=True)
        )

        team_ids |= {use_case.owning_team_id for use_case in self.use_cases}
        self.memberships = set(
            Team.members.through.objects.filter(team_id__in=team_ids).values_list("team_id", "user_id")
        )
        texts = {
            str(value).strip().lower()
            for intent in intents
            for name in PEOPLE_FIELDS
            if isinstance(value := intent.get(name), str) and value.strip()
        }
        people = (
            get_user_model()
            .objects.annotate(username_lower=Lower("username"), email_lower=Lower("email"))
            .filter(Q(username_lower__in=texts) | Q(email_lower__in=texts))
            if texts
            else []
        )
        self.people_by_username = {}
        self.people_by_folded_username = defaultdict(list)
        self.people_by_email = defaultdict(list)
        for person in people:
            self.people_by_username[person.username] = person
            self.people_by_folded_username[person.username.lower()].append(person)
            if person.email:
                self.people_by_email[person.email.lower()].append(person)

    def team(self, text) -> Team | None:
        if not isinstance(text, str) or not text.strip():
            return None
        text = text.strip()
        return (
            self.teams_by_slug.get(text.lower())
            or self.teams_by_name.get(text)
            or self.teams_by_folded_name.get(text.casefold())
        )

    def person(self, text: str):
        """(person, None) or (None, why not)."""
        text = text.strip()
        if text in self.people_by_username:
            return self.people_by_username[text], None
        for candidates, what in (
            (self.people_by_folded_username.get(text.lower(), []), "username"),
            (self.people_by_email.get(text.lower(), []), "e-mail address"),
        ):
            if len(candidates) == 1:
                return candidates[0], None
            if len(candidates) > 1:
                return None, f'more than one person has the {what} "{shorten(text)}"; use the exact username'
        return None, f'unknown person "{shorten(text)}": use a username or an e-mail address'

    def is_member(self, team: Team, person) -> bool:
        return (team.pk, person.pk) in self.memberships

    def may_file_in(self, team: Team) -> bool:
        return self.is_admin or self.may_onboard or team.pk in self.my_team_ids


def _normalise_key(value) -> str:
    """'uc-42', 'UC42' and 'UC-0042' are all UC-0042; anything else is returned as written."""
    if not isinstance(value, str) or not value.strip():
        return ""
    match = KEY_PATTERN.match(value.strip())
    return f"{KEY_PREFIX}{int(match.group(1)):04d}" if match else value.strip()


def _parse_bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(word)


def _parse_choice(choices, value: str) -> str | None:
    wanted = value.strip().casefold()
    folded = re.sub(r"[\s\-]+", "_", wanted)
    for choice_value, label in choices.pairs():
        if wanted in (choice_value.casefold(), label.casefold()) or folded == choice_value.casefold():
            return choice_value
    return None


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def display(field_name: str, value) -> str:
    """A field's value as a person reads it in a preview or a report."""
    if value is None:
        return ""
    if field_name in PEOPLE_FIELDS:
        return value.get_username()
    if field_name in ("team", "owning_team"):
        return value.slug
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field_name == "tags":
        return ", ".join(value)
    return str(value)


# Model field name → intent (column) name, where they differ.
INTENT_FIELD = {"owning_team": "team", "business_unit": "team", "lifecycle_stage": "stage", "__all__": ""}


def plan_intent(intent: dict, *, lookups: Lookups, match_by_name: bool) -> Plan:
    """Resolve one row or descriptor and decide: create, update (which fields) or unchanged.

    ``intent`` maps the import's column names to values (text, or bool/list from YAML); a field
    that is absent is not touched. ``match_by_name``: without a key, an existing use case of the
    same team and name is the one to update (descriptors); otherwise it is a conflict (imports).
    """
    plan = Plan()
    wanted: dict[str, Any] = {}

    for name in ("name", "purpose"):
        if name in intent:
            text = "" if intent[name] is None else str(intent[name]).strip()
            if not text:
                plan.error(name, f"{name} is required.")
            elif name == "name" and len(text) > NAME_MAX_LENGTH:
                plan.error(
                    name, f"the name is {len(text)} characters long; at most {NAME_MAX_LENGTH} are allowed."
                )
            else:
                wanted[name] = text
        elif name == "name":
            plan.error(name, "name is required.")
    plan.name = wanted.get("name", "")

    team_text = intent.get("team")
    if _is_blank(team_text):
        plan.error("team", "team is required: give the team's slug or its exact name.")
    else:
        plan.team = lookups.team(str(team_text))
        if plan.team is None:
            plan.error("team", f'unknown team "{shorten(team_text)}": use a team\'s slug or its exact name.')
        else:
            wanted["owning_team"] = plan.team

    for name, choices in CHOICE_FIELDS.items():
        if name not in intent:
            continue
        if _is_blank(intent[name]):
            if name not in DEFAULTED_FIELDS:
                plan.error(name, f"{name} is required; use one of: {', '.join(choices.values())}.")
            continue
        value = _parse_choice(choices, str(intent[name]))
        if value is None:
            plan.error(
                name,
                f'"{shorten(intent[name])}" is not {CHOICE_NOUNS[name]}; use one of: {", ".join(choices.values())}.',
            )
        else:
            wanted[name] = value

    if "customer_facing" in intent and not _is_blank(intent["customer_facing"]):
        try:
            wanted["customer_facing"] = _parse_bool(intent["customer_facing"])
        except ValueError:
            plan.error(
                "customer_facing",
                f'"{shorten(intent["customer_facing"])}" is not yes or no (yes/no/true/false/1/0).',
            )

    for name in PEOPLE_FIELDS:
        if name not in intent:
            continue
        value = intent[name]
        if _is_blank(value):
            if name == "accountable_owner":
                plan.error(
                    name, "every use case needs an accountable owner (a username or an e-mail address)."
                )
            else:
                wanted[name] = None
            continue
        person, problem = lookups.person(str(value))
        if person is None:
            plan.error(name, problem)
        else:
            wanted[name] = person

    url_validator = URLValidator(schemes=["http", "https"])
    for name in URL_FIELDS:
        if name not in intent:
            continue
        text = "" if intent[name] is None else str(intent[name]).strip()
        if text:
            try:
                url_validator(text)
            except ValidationError:
                plan.error(
                    name, f'"{shorten(text)}" is not a web address; use a full http:// or https:// address.'
                )
                continue
            if len(text) > URL_MAX_LENGTH:
                plan.error(name, f"the address is longer than {URL_MAX_LENGTH} characters.")
                continue
        wanted[name] = text

    if "tags" in intent:
        tags = intent["tags"]
        if tags is not None and not isinstance(tags, (str, list)):
            plan.error("tags", "tags are a list of words.")
        else:
            wanted["tags"] = normalise_tags(tags)

    requested_key = ""
    if not _is_blank(intent.get("key")):
        requested_key = _normalise_key(str(intent["key"]))
        if not KEY_PATTERN.match(requested_key):
            plan.error(
                "key", f'"{shorten(requested_key)}" is not a use case key; keys look like {KEY_PREFIX}0042.'
            )
            requested_key = ""

    if not _match_existing(plan, requested_key=requested_key, lookups=lookups, match_by_name=match_by_name):
        return plan
    stage_text = "" if _is_blank(intent.get("stage")) else str(intent["stage"]).strip().lower()
    if plan.use_case is None:
        _plan_create(plan, wanted, stage_text=stage_text, lookups=lookups, match_by_name=match_by_name)
    else:
        _plan_update(plan, wanted, stage_text=stage_text, lookups=lookups)
    return plan


def _match_existing(plan: Plan, *, requested_key: str, lookups: Lookups, match_by_name: bool) -> bool:
    """Find the use case the entry names. False when it names one that cannot be used: the
    entry is refused for that one reason, without a cascade of create-time complaints."""
    existing = None
    if requested_key:
        plan.key = requested_key
        existing = lookups.by_key.get(requested_key)
    elif match_by_name and plan.team is not None and plan.name:
        # A use case the person cannot see is never matched (nor counted, nor named).
        candidates = [
            candidate
            for candidate in lookups.by_team_name.get((plan.team.pk, plan.name.casefold()), [])
            if candidate.pk in lookups.visible
        ]
        if len(candidates) > 1:
            plan.error(
                "key",
                f'{plan.team.name} has {len(candidates)} use cases named "{plan.name}" '
                f"({', '.join(c.key for c in candidates)}); give the key to say which one.",
            )
            return False
        existing = candidates[0] if candidates else None
    if existing is not None and existing.pk not in lookups.visible:
        existing = None  # forbidden and missing answer alike, below
    if existing is None:
        if requested_key and int(requested_key.removeprefix(KEY_PREFIX)) <= lookups.last_key_number:
            # The key was handed out once: it belongs to a use case the person cannot see, or to
            # one deleted since. Both get this answer, so that it tells nothing about either.
            last = f"{KEY_PREFIX}{lookups.last_key_number:04d}"
            plan.action = "update"
            plan.error(
                "key",
                f"{requested_key} is not a use case you can see. Leave the key empty to file a new use case; "
                f"a key you choose must be above {last}, the last one handed out.",
            )
            return False
        return True
    plan.key = existing.key
    plan.action = "update"
    if existing.pk not in lookups.changeable:
        plan.error(
            "key",
            f"{existing.key} exists and belongs to {existing.owning_team.name}; you may not change it.",
        )
        return False
    plan.use_case = existing
    return True


def _plan_create(plan: Plan, wanted: dict, *, stage_text: str, lookups: Lookups, match_by_name: bool) -> None:
    plan.action = "create"
    plan.key_assigned = not plan.key
    if not lookups.may_add:
        plan.error("key", "this would file a new use case, and your roles do not allow filing use cases.")
    elif plan.team is not None and not lookups.may_file_in(plan.team):
        plan.error(
            "team", f"you are not a member of {plan.team.name}; you may import only into your own teams."
        )
    owner = wanted.get("accountable_owner")
    if owner is not None and plan.team is not None:
        _check_owner(plan, owner, plan.team, lookups)
    for name in PEOPLE_FIELDS[1:]:
        person = wanted.get(name)
        if person is not None and not person.is_active:
            plan.error(name, f"{person.get_username()} is no longer active.")
    if plan.team is not None and plan.name and not match_by_name:
        for other in lookups.by_team_name.get((plan.team.pk, plan.name.casefold()), []):
            if other.pk not in lookups.visible:
                continue
            plan.error(
                "name",
                f'{plan.team.name} already has a use case named "{plan.name}" ({other.key}); put {other.key} in '
                "the key column to update it, or choose another name.",
            )
            break
    if stage_text in ("", DRAFT):
        plan.submit = False
    elif stage_text == INTAKE_STAGE_KEY:
        plan.submit = True
    elif lookups.may_onboard and stage_text in lookups.stages:
        # An existing pilot or production system enters at its real stage, attested by the importer.
        plan.submit = True
        plan.onboard_stage = lookups.stages[stage_text]
    elif lookups.may_onboard:
        plan.error(
            "stage",
            f'"{shorten(stage_text)}" is not a lifecycle stage; use one of: {DRAFT}, {", ".join(lookups.stages)}.',
        )
    else:
        plan.error(
            "stage",
            f'a new use case cannot start at "{shorten(stage_text)}": stages move only through gates. Use draft or '
            f"{INTAKE_STAGE_KEY}. (An administrator or CoE lead may import a running pilot or production "
            "system at its stage, as an attested onboarding.)",
        )
    plan.values = wanted
    plan.changes = {
        INTENT_FIELD.get(name, name): ("", display(name, value)) for name, value in wanted.items()
    }
    if plan.onboard_stage is not None:
        plan.changes["stage"] = ("", f"{plan.onboard_stage.key} (attested onboarding)")
    scalars = {name: value for name, value in wanted.items() if name not in (*PEOPLE_FIELDS, "owning_team")}
    _check_fields(plan, UseCase(**scalars))


def _plan_update(plan: Plan, wanted: dict, *, stage_text: str, lookups: Lookups) -> None:
    use_case = plan.use_case
    changed = {}
    for name, value in wanted.items():
        current = getattr(use_case, name)
        if name in PEOPLE_FIELDS or name == "owning_team":
            same = (current.pk if current else None) == (value.pk if value else None)
        elif name in ("name", "purpose"):
            same = (current or "").strip() == value
        elif name == "tags":
            same = normalise_tags(current) == value
        else:
            same = current == value
        if not same:
            changed[name] = value
            plan.changes[INTENT_FIELD.get(name, name)] = (display(name, current), display(name, value))
    if "risk_tier" in changed:
        plan.error(
            "risk_tier",
            f'{use_case.key} is classified "{display("risk_tier", use_case.risk_tier)}"; after filing, the '
            "risk tier changes only through the risk classification.",
        )
    team = changed.get("owning_team")
    if team is not None and not lookups.may_file_in(team):
        plan.error("team", f"you are not a member of {team.name}; you may not move {use_case.key} there.")
    if "owning_team" in changed or "accountable_owner" in changed:
        owner = wanted.get("accountable_owner", use_case.accountable_owner)
        _check_owner(plan, owner, team or use_case.owning_team, lookups)
    for name in PEOPLE_FIELDS[1:]:
        person = changed.get(name)
        if person is not None and not person.is_active:
            plan.error(name, f"{person.get_username()} is no longer active.")
    if ("name" in changed or "owning_team" in changed) and plan.team is not None:
        for other in lookups.by_team_name.get((plan.team.pk, plan.name.casefold()), []):
            if other.pk != use_case.pk and other.pk in lookups.visible:
                plan.error(
                    "name", f'{plan.team.name} already has a use case named "{plan.name}" ({other.key}).'
                )
                break
    current_stage = use_case.lifecycle_stage.key if use_case.lifecycle_stage else DRAFT
    if stage_text and stage_text != current_stage.lower():
        if current_stage == DRAFT and stage_text == INTAKE_STAGE_KEY:
            plan.submit = True
            plan.changes["stage"] = (DRAFT, INTAKE_STAGE_KEY)
        else:
            plan.error(
                "stage",
                f'{use_case.key} is at "{current_stage}"; it cannot move to "{stage_text}" here: stages move only '
                f"through gates (a draft may be submitted as {INTAKE_STAGE_KEY}).",
            )
    plan.values = changed
    plan.action = "update" if changed or plan.submit else "unchanged"
    if changed:
        probe = UseCase(
            **{
                name: changed.get(name, getattr(use_case, name))
                for name in ("name", "purpose", *CHOICE_FIELDS, "customer_facing", *URL_FIELDS, "tags")
            }
        )
        _check_fields(plan, probe, only=set(changed))


def _check_owner(plan: Plan, owner, team: Team, lookups: Lookups) -> None:
    if not owner.is_active:
        plan.error(
            "accountable_owner", f"{owner.get_username()} is no longer active; choose an active owner."
        )
    elif not lookups.is_member(team, owner):
        plan.error(
            "accountable_owner",
            f"{owner.get_username()} is not a member of {team.name}; add them to the team first.",
        )


def _check_fields(plan: Plan, probe: UseCase, only: set | None = None) -> None:
    """The model's own field rules (lengths, choices, URLs) without touching the database."""
    excluded = ["key", "business_unit", "owning_team", "lifecycle_stage", "created_by", *PEOPLE_FIELDS]
    try:
        probe.clean_fields(exclude=excluded)
    except ValidationError as exc:
        already = {name for name, _message in plan.errors}
        for name, messages in exc.message_dict.items():
            intent_name = INTENT_FIELD.get(name, name)
            if (only is None or name in only) and intent_name not in already:
                plan.error(intent_name, " ".join(messages))


def duplicate_errors(plans: list[Plan], labels: list[str]) -> list[tuple[int, str, str]]:
    """(index, field, message) for entries that name the same use case, or the same team and name."""
    problems = []
    seen_keys: dict[str, int] = {}
    seen_names: dict[tuple[int, str], int] = {}
    for index, plan in enumerate(plans):
        if plan.key:
            if plan.key in seen_keys:
                first = seen_keys[plan.key]
                problems.append(
                    (index, "key", f"{plan.key} is also on {labels[first]}; each use case may appear once.")
                )
            else:
                seen_keys[plan.key] = index
        if plan.team is not None and plan.name:
            team_name = (plan.team.pk, plan.name.casefold())
            first = seen_names.get(team_name)
            # Two use cases that already share a name (the model allows it) may both be listed
            # unchanged; only an entry that creates or renames one makes a new duplicate.
            if first is not None and (_introduces_name(plan) or _introduces_name(plans[first])):
                problems.append(
                    (
                        index,
                        "name",
                        f'{labels[first]} also has "{plan.name}" for team {plan.team.name}; '
                        "use one entry per use case.",
                    )
                )
            elif first is None:
                seen_names[team_name] = index
    return problems


def _introduces_name(plan: Plan) -> bool:
    return plan.use_case is None or "name" in plan.changes or "team" in plan.changes


class ApplyFailed(Exception):
    """A write failed after validation passed (a race, a rule only the database knows)."""

    def __init__(self, index: int, errors: list[tuple[str, str]]):
        self.index = index
        self.errors = errors
        super().__init__(errors)


def apply_plans(plans: list[Plan], *, user) -> list[UseCase | None]:
    """Write the plans through the services, in the caller's transaction. Raises ApplyFailed."""
    written: list[UseCase | None] = []
    for index, plan in enumerate(plans):
        try:
            with transaction.atomic():
                written.append(_apply(plan, user=user))
        except ValidationError as exc:
            raise ApplyFailed(index, _errors_of(exc)) from exc
        except IntegrityError as exc:
            raise ApplyFailed(
                index, [("key", f"{plan.key or 'the key'} was taken by someone else meanwhile; try again.")]
            ) from exc
    return written


def _apply(plan: Plan, *, user) -> UseCase | None:
    if plan.action == "create":
        values = dict(plan.values)
        optional = {name: values[name] for name in USE_CASE_OPTIONAL_FIELDS if name in values}
        use_case = usecase_create(
            actor=user,
            key=plan.key,
            submit=plan.submit,
            name=values["name"],
            purpose=values["purpose"],
            owning_team=values["owning_team"],
            accountable_owner=values["accountable_owner"],
            ai_kind=values["ai_kind"],
            data_sensitivity=values["data_sensitivity"],
            **optional,
        )
        if plan.key:
            _advance_key_sequence(use_case.key)
        if plan.onboard_stage is not None:
            use_case = usecase_onboard_at_stage(use_case=use_case, stage=plan.onboard_stage, actor=user)
        plan.key = use_case.key
        return use_case
    if plan.action == "update":
        use_case = plan.use_case
        if plan.values:
            use_case = usecase_update(use_case=use_case, actor=user, **plan.values)
        if plan.submit:
            use_case = usecase_submit(use_case=use_case, actor=user)
        return use_case
    return plan.use_case


def _advance_key_sequence(key: str) -> None:
    """A key chosen in a file must never be handed out again by the sequence."""
    number = int(key.removeprefix(KEY_PREFIX))
    KeySequence.objects.get_or_create(name="usecase")
    KeySequence.objects.filter(name="usecase", last_value__lt=number).update(last_value=number)


def _errors_of(exc: ValidationError) -> list[tuple[str, str]]:
    if hasattr(exc, "error_dict"):
        return [
            (INTENT_FIELD.get(name, name), " ".join(messages)) for name, messages in exc.message_dict.items()
        ]
    return [("", " ".join(exc.messages))]


def may_onboard(user) -> bool:
    """Administrators and CoE leads onboard a portfolio: any team, any stage (attested)."""
    return bool(user) and getattr(user, "is_authenticated", False) and has_role(user, *ONBOARDING_ROLES)


def may_import(user) -> bool:
    """Whether the person could write anything at all: file new use cases or change some."""
    if not user or not getattr(user, "is_authenticated", False):
        return False
    return (
        can_add(user, UseCase)
        or may_onboard(user)
        or restrict(UseCase.objects.all(), user, Action.CHANGE).exists()
    )


#
# The import: preview and commit
#


@dataclass(frozen=True)
class RowError:
    row: int | None  # None: the file as a whole
    column: str
    message: str

    def describe(self, filename: str) -> str:
        where = [filename]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


@dataclass
class PreviewRow:
    row: int
    action: str  # create | update | unchanged
    key: str  # empty for a create that gets a new key
    name: str
    team: str  # slug
    changes: dict[str, tuple[str, str]]  # column → (before, after)
    submit: bool
    plan: Plan = field(repr=False, compare=False)

    @property
    def onboard_stage(self) -> str:
        """The stage of an attested onboarding ("" for anything else)."""
        return self.plan.onboard_stage.key if self.plan.onboard_stage is not None else ""


@dataclass
class ImportPreview:
    filename: str
    sheet: ParsedSheet
    rows: list[PreviewRow]
    errors: list[RowError]
    warnings: list[str]

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def to_create(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.action == "create"]

    @property
    def to_update(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.action == "update"]

    @property
    def unchanged(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.action == "unchanged"]

    @property
    def onboarded(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.onboard_stage]

    def summary(self, *, sample: int = 100, errors: int = 200) -> dict:
        """Plain data for a background check's result: the counts, the first problems and rows."""
        return {
            "filename": self.filename,
            "encoding": self.sheet.encoding,
            "rows": len(self.rows),
            "create": len(self.to_create),
            "update": len(self.to_update),
            "unchanged": len(self.unchanged),
            "onboard": len(self.onboarded),
            "error_count": len(self.errors),
            "errors": [[e.row, e.column, e.message] for e in self.errors[:errors]],
            "warnings": list(self.warnings),
            "sample": [
                {
                    "row": row.row,
                    "action": row.action,
                    "key": row.key,
                    "name": row.name,
                    "team": row.team,
                    "changes": [[column, before, after] for column, (before, after) in row.changes.items()],
                    "submit": row.submit,
                    "onboard_stage": row.onboard_stage,
                }
                for row in self.rows[:sample]
            ],
        }

    def error_messages(self) -> list[str]:
        return [error.describe(self.filename) for error in self.errors]


@dataclass
class ImportResult:
    filename: str
    created: list[str] = field(default_factory=list)  # keys
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_messages(self) -> list[str]:
        return [error.describe(self.filename) for error in self.errors]


def validate_rows(sheet: ParsedSheet, *, user, _lock: bool = False) -> ImportPreview:
    """Check every row; collect every problem as (row, column, message). Writes nothing."""
    warnings = list(sheet.warnings)
    if not may_import(user):
        error = RowError(None, "", "your roles do not allow importing use cases (filing or changing them).")
        return ImportPreview(sheet.filename, sheet, [], [error], warnings)
    intents = [dict(row.values) for row in sheet.rows]
    lookups = Lookups(user=user, intents=intents, lock=_lock)
    plans = [plan_intent(intent, lookups=lookups, match_by_name=False) for intent in intents]
    labels = [f"row {row.number}" for row in sheet.rows]
    for index, field_name, message in duplicate_errors(plans, labels):
        plans[index].error(field_name, message)
    rows, errors = [], []
    for sheet_row, plan in zip(sheet.rows, plans, strict=True):
        errors.extend(RowError(sheet_row.number, name, message) for name, message in plan.errors)
        rows.append(
            PreviewRow(
                row=sheet_row.number,
                action=plan.action,
                key="" if plan.key_assigned else plan.key,
                name=plan.name,
                team=plan.team.slug if plan.team else sheet_row.values.get("team", ""),
                changes=plan.changes,
                submit=plan.submit,
                plan=plan,
            )
        )
    return ImportPreview(sheet.filename, sheet, rows, errors, warnings)


class _Rejected(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(errors)


def commit_import(preview: ImportPreview, *, user) -> ImportResult:
    """Validate again and write every row, in one transaction, or nothing.

    Returns an :class:`ImportResult`; when ``result.ok`` is false nothing was written and
    ``result.errors`` name row and column.
    """
    sheet = preview.sheet
    result = ImportResult(filename=sheet.filename, warnings=list(preview.warnings))
    try:
        with transaction.atomic():
            fresh = validate_rows(sheet, user=user, _lock=True)
            if not fresh.is_valid:
                raise _Rejected(fresh.errors)
            plans = [row.plan for row in fresh.rows]
            try:
                apply_plans(plans, user=user)
            except ApplyFailed as failure:
                number = fresh.rows[failure.index].row
                raise _Rejected(
                    [RowError(number, name, message) for name, message in failure.errors]
                ) from failure
            for row, plan in zip(fresh.rows, plans, strict=True):
                if row.action == "create":
                    result.created.append(plan.key)
                elif row.action == "update":
                    result.updated.append(plan.key)
                else:
                    result.unchanged += 1
            audit.record(
                audit.AuditActionChoices.IMPORT,
                message=(
                    f"Imported use cases from {sheet.filename}: {len(result.created)} created, "
                    f"{len(result.updated)} updated, {result.unchanged} unchanged."
                ),
                extra={
                    "file": sheet.filename,
                    "created": len(result.created),
                    "updated": len(result.updated),
                },
            )
    except _Rejected as rejected:
        return ImportResult(filename=sheet.filename, errors=rejected.errors, warnings=result.warnings)
    return result
