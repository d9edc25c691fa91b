"""pages/nav.py is the one page list: the entry's navigation, Home's map and the presenter's
story all come from it, and the legacy-mode files in pages/ stay in step with it."""

from __future__ import annotations

from pathlib import Path

from app_helpers import open_page

from pages.nav import PAGES, position

ROOT = Path(__file__).resolve().parents[2]


def test_every_page_script_exists_in_views_and_every_view_is_listed():
    assert [p.script for p in PAGES] == [f"pages/views/{Path(p.script).name}" for p in PAGES]
    assert all((ROOT / p.script).is_file() for p in PAGES)
    assert sorted(Path(p.script).name for p in PAGES) == sorted(f.name for f in (ROOT / "pages/views").glob("*.py"))


def test_urls_are_unique_and_home_is_the_default():
    urls = [p.url_path for p in PAGES]
    assert urls[0] == "" and len(set(urls)) == len(urls)
    assert [position(u) for u in urls] == list(range(len(PAGES))) and position("nowhere") == -1


def test_each_url_has_its_legacy_mode_file_and_nothing_else_looks_like_a_page():
    """Streamlit's legacy pages-directory mode runs pages/<url>.py alone on a fresh server's first
    request: each page's URL needs that one-line file (else a "Page not found" dialog), and every
    other file directly in pages/ is a module no URL names."""
    shims = {p.url_path for p in PAGES if p.url_path}
    for url in shims:
        text = (ROOT / "pages" / f"{url}.py").read_text()
        assert "enter_through_the_entry()" in text and len(text.splitlines()) <= 6, url
    modules = {f.stem for f in (ROOT / "pages").glob("*.py")} - shims
    assert not modules & {Path(p.script).stem for p in PAGES}
    for module in modules:
        assert "enter_through_the_entry()\n" not in (ROOT / "pages" / f"{module}.py").read_text().splitlines(True)[-1:]


def test_homes_map_and_the_story_list_every_page_in_order():
    at = open_page(None)
    links = [(link.proto.page, link.proto.label) for link in at.get("page_link")]
    assert links == [(p.url_path, f"**{p.title}**") for p in PAGES[1:]]
    presenting = open_page(None, query={"present": "1"})
    titles = [m.value for m in presenting.markdown if m.value.startswith("**")]
    assert any(PAGES[0].title in t for t in titles)
