"""Templates stay readable in a diff: no line is longer than MAX_LINE characters."""

from pathlib import Path

from django.conf import settings

MAX_LINE = 160


def template_files() -> list[Path]:
    roots = [Path(directory) for directory in settings.TEMPLATES[0]["DIRS"]]
    roots += [path for path in Path(settings.BASE_DIR).glob("*/templates") if path.is_dir()]
    return sorted({path for root in roots for path in root.rglob("*.html")})


def test_there_are_templates_to_check():
    assert any(path.name == "base.html" for path in template_files())


def test_no_template_line_is_longer_than_the_limit():
    base = Path(settings.BASE_DIR)
    too_long = [
        f"{path.relative_to(base)}:{number} ({len(line)} characters)"
        for path in template_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if len(line) > MAX_LINE
    ]
    assert not too_long, f"Template lines over {MAX_LINE} characters:\n" + "\n".join(too_long)
