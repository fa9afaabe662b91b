"""The browser tab shows the page's <title>: plain words, never a copy of the page's markup
(issue 10 item 21: the team page's title block swallowed its body)."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve

from portal.demo import load_demo_portfolio

TITLE_BLOCK = re.compile(r"{%\s*block title\s*%}(.*?){%\s*endblock", re.DOTALL)
# Links a crawl must not follow: they change state, download files or leave the pages.
SKIPPED_PREFIXES = ("/admin/", "/api/", "/logout/", "/sso/", "/static/", "/media/")
SKIPPED_NAMES = ("export", "descriptor", "audit-export", "usecase-export")


def test_no_template_puts_markup_in_the_title_block():
    template_dirs = [Path(directory) for entry in settings.TEMPLATES for directory in entry["DIRS"]]
    template_dirs += [
        Path(settings.BASE_DIR) / app / "templates" for app in ("portal", "inventory", "approvals", "costs")
    ]
    checked = 0
    for directory in template_dirs:
        for template in directory.rglob("*.html"):
            for block in TITLE_BLOCK.findall(template.read_text()):
                checked += 1
                assert "<" not in block and "\n" not in block, f"{template}: title block holds {block[:80]!r}"
    assert checked > 20  # the pattern found the title blocks


class _TitleAndLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.titles: list[str] = []
        self.links: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        elif self._in_title:
            self.titles[-1] += f"<{tag}>"
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/") or href.startswith("?"):
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.titles[-1] += data


def _route(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.view_name


@pytest.mark.django_db
def test_every_main_page_has_a_plain_title(client):
    """Crawl from the home page (each view once, each use-case tab once) and read every title."""
    people = load_demo_portfolio()
    client.force_login(people["admin"])  # the admin reaches every page
    queue, seen_routes, visited = ["/"], set(), []
    while queue and len(visited) < 120:
        url = queue.pop(0)
        parts = urlsplit(url)
        route = _route(parts.path)
        if route is None or any(skip in route for skip in SKIPPED_NAMES):
            continue
        tab = re.search(r"(?:^|&)tab=([\w-]+)", parts.query)
        key = (route, tab.group(1) if tab else "")
        if key in seen_routes:
            continue
        seen_routes.add(key)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        visited.append(url)
        parser = _TitleAndLinks()
        parser.feed(response.content.decode())
        assert len(parser.titles) == 1, f"{url}: {len(parser.titles)} <title> elements"
        title = parser.titles[0].strip()
        assert title.endswith("· Propylon"), f"{url}: {title[:120]!r}"
        assert "<" not in title and ">" not in title and "\n" not in title, f"{url}: {title[:120]!r}"
        for href in parser.links:
            href = parts.path + href if href.startswith("?") else href
            if not href.startswith(SKIPPED_PREFIXES):
                queue.append(href.split("#")[0])
    routes = {route for route, _tab in seen_routes}
    assert {"inventory:team-detail", "inventory:usecase-detail", "home"} <= routes
    assert len(visited) > 15
