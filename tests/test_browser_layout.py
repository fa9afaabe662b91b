"""Issue 10 item 22: no page scrolls sideways on a phone or a laptop; the navigation folds
behind a keyboard-usable menu button; the tab bar wraps instead of clipping."""

import pytest

from portal.demo import load_demo_portfolio
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PAGES = ("/", "/use-cases/", "/use-cases/UC-0001/", "/use-cases/UC-0001/?tab=releases", "/costs/", "/gates/")


@pytest.mark.parametrize("width", [390, 1366])
def test_pages_fit_the_window(page, width):
    load_demo_portfolio()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "lead")
    page.wait_for_url("**/")
    for url in PAGES:
        page.goto(url)
        page_width, window_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert page_width <= window_width, f"{url} is {page_width}px wide at {width}px"
        tabs = page.locator(".tabs")
        if tabs.count():
            scroll, client = tabs.evaluate("tabs => [tabs.scrollWidth, tabs.clientWidth]")
            assert scroll <= client, f"{url}: the tab bar overflows ({scroll} > {client})"
            for box in (tab.bounding_box() for tab in tabs.get_by_role("link").all()):
                assert box["x"] >= 0 and box["x"] + box["width"] <= window_width, f"{url}: a tab is cut off"


def test_the_menu_button_opens_and_closes_the_navigation_from_the_keyboard(page):
    load_demo_portfolio()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "lead")
    page.wait_for_url("**/")
    menu = page.get_by_role("button", name="Menu")
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Use cases")
    assert menu.get_attribute("aria-expanded") == "false"
    assert not nav_link.is_visible()
    menu.focus()
    page.keyboard.press("Enter")
    assert menu.get_attribute("aria-expanded") == "true"
    assert nav_link.is_visible()
    page.keyboard.press("Escape")
    assert menu.get_attribute("aria-expanded") == "false"
    assert not nav_link.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")
    page.keyboard.press("Space")
    nav_link.click()
    page.wait_for_url("**/use-cases/")
    # On a laptop there is no menu button: the sidebar shows the navigation.
    page.set_viewport_size({"width": 1366, "height": 900})
    assert not menu.is_visible()
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").is_visible()
    assert errors == []  # nav.js loads under the CSP, with no inline script
