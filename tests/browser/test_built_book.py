"""The built HTML book, page by page, as a reader's browser shows it.

Needs a built book: ``_build/html`` (``scripts/build-book``), or the directory named by
``QMRI_BOOK_HTML``; skipped when its ``index.html`` is missing. Each chapter page of
``_toc.yml`` is loaded from disk (file://) in headless Chromium with the network cut off
(every request that leaves the book is aborted and counted), MathJax is given time to
typeset, and then:

- no script, style sheet or request goes to another host (a CDN): the book reads offline;
- every math element is typeset, and no raw TeX (``\\(``, ``\\[``, ``$$``, ``\\begin{``,
  ``\\command``, ``$...$``) is left in the visible text outside code;
- nothing is wider than the content column, except inside a deliberate scroll container
  (:data:`OVERFLOW_RULE` says exactly what counts);
- no machine path (``PosixPath``, ``/tmp/``, ``/home/``, ``/root/``, ``/work/``) appears in
  the page's text, visible or folded away;
- every citation resolves (sphinxcontrib-bibtex leaves an unresolved one as an empty
  ``span.bibtex-citation`` or ``[]``), and no docutils error text (``.problematic``,
  ``.system-message``) is on the page;
- no script on the page throws;
- the page offers the chapter as ``.ipynb`` in its download menu, and that file exists.

A failure lists every offender on the page with its text, so that it can be found.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("QMRI_BOOK_HTML", REPO / "_build" / "html"))
TOC = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
PAGES = [TOC["root"]] + [entry["file"] for entry in TOC.get("chapters", [])]

CDN_HOSTS = ("cdn.jsdelivr.net", "mathjax.org", "unpkg.com", "cdnjs.cloudflare.com",
             "ajax.googleapis.com", "fonts.googleapis.com", "cdn.plot.ly", "code.jquery.com")
MACHINE_PATHS = re.compile(r"PosixPath|WindowsPath|/tmp/|/home/|/root/|/work/")
RAW_TEX = [
    (re.compile(r"\\[()\[\]]"), "TeX delimiter"),
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\(?:begin|end)\{"), "TeX environment"),
    (re.compile(r"\\[A-Za-z]{2,}"), "TeX command"),
    (re.compile(r"(?<![\w$\\])\$(?=\S)[^$\n]{1,200}?(?<=\S)\$(?!\w)"), "unrendered $...$"),
]

#: What counts as too wide (the check in _ANALYSE implements it).
OVERFLOW_RULE = """\
Inside the page's content column (article.bd-article, its content box), an element is an
offender when its box reaches more than 1 px past the column's left or right edge, unless
it sits inside a scroll container - an ancestor below the column whose computed overflow-x
is not 'visible' (code blocks, MyST-NB output areas, the theme's table wrappers, display
math); the container itself is still checked - or it is deliberate margin or full-width
content (.margin, .sidebar, aside, .full-width and their children), fixed-position, hidden
or of zero size. Only the outermost offending element is reported. The page as a whole
must not scroll sideways either."""

_ANALYSE = r"""
async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const col = document.querySelector('article.bd-article') || document.querySelector('main');
    const skipText = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE']);
    const codeLike = new Set(['PRE', 'CODE', 'KBD', 'SAMP', 'TEXTAREA', 'MJX-CONTAINER']);
    const hidden = (el) => {
        for (let e = el; e && e !== document.body; e = e.parentElement) {
            const s = getComputedStyle(e);
            if (s.display === 'none' || s.visibility === 'hidden') return true;
        }
        return false;
    };
    const label = (el) => el.tagName.toLowerCase() +
        (el.id ? '#' + el.id : '') +
        [...el.classList].slice(0, 3).map(c => '.' + c).join('');
    const snippet = (s) => s.replace(/\s+/g, ' ').trim().slice(0, 100);

    // text nodes: visible prose (outside code) and all text (for machine paths)
    const prose = [], allText = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const parent = n.parentElement;
        if (!parent || !n.nodeValue.trim()) continue;
        let skip = false, code = false;
        for (let e = parent; e; e = e.parentElement) {
            if (skipText.has(e.tagName)) { skip = true; break; }
            if (codeLike.has(e.tagName) || e.classList.contains('highlight')) code = true;
        }
        if (skip) continue;
        allText.push({where: label(parent), text: n.nodeValue});
        if (!code && col && col.contains(n) && !hidden(parent))
            prose.push({where: label(parent), text: n.nodeValue});
    }
    const attrs = [];
    for (const el of document.querySelectorAll('[href], [src], [alt], [title]'))
        for (const a of ['href', 'src', 'alt', 'title'])
            if (el.hasAttribute(a)) attrs.push({where: label(el) + '[' + a + ']', text: el.getAttribute(a)});

    // math: every math element typeset by MathJax
    const mathElements = [...document.querySelectorAll('.math')];
    const untypeset = mathElements.filter(m => !m.querySelector('mjx-container'))
        .map(m => snippet(m.textContent));

    // overflow
    const overflow = [], scrolling = [];
    if (col) {
        const cs = getComputedStyle(col), cr = col.getBoundingClientRect();
        const left = cr.left + parseFloat(cs.paddingLeft), right = cr.right - parseFloat(cs.paddingRight);
        const deliberate = '.margin, .sidebar, aside, .full-width, .tag_margin, .tag_full-width';
        const offenders = new Set();
        for (const el of col.querySelectorAll('*')) {
            if (el.closest(deliberate)) continue;
            const s = getComputedStyle(el);
            if (s.display === 'none' || s.visibility === 'hidden' || s.position === 'fixed') continue;
            let contained = false;
            for (let a = el.parentElement; a && a !== col; a = a.parentElement) {
                if (getComputedStyle(a).overflowX !== 'visible') { contained = true; break; }
            }
            if (contained) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            const past = Math.max(r.right - right, left - r.left);
            if (past > 1) offenders.add(el);
            if (s.overflowX !== 'visible' && !s.display.startsWith('inline')
                && el.scrollWidth > el.clientWidth + 1)
                scrolling.push(label(el) + ' "' + snippet(el.textContent).slice(0, 60) + '"');
        }
        for (const el of offenders) {
            if (el.parentElement && offenders.has(el.parentElement)) continue;
            const r = el.getBoundingClientRect();
            const past = Math.round(Math.max(r.right - right, left - r.left));
            overflow.push(`${label(el)} reaches ${past} px past the column ` +
                          `(${Math.round(r.width)} px wide, column ${Math.round(right - left)} px): ` +
                          `"${snippet(el.textContent)}"`);
        }
    }
    const doc = document.scrollingElement;
    if (doc.scrollWidth > window.innerWidth + 1)
        overflow.push(`the page scrolls sideways (${doc.scrollWidth} px wide, window ${window.innerWidth} px)`);

    // citations and docutils errors
    const citations = [...document.querySelectorAll('span.bibtex-citation')]
        .filter(c => !c.querySelector('a[href]'))
        .map(c => `unresolved citation "${snippet(c.textContent) || '(empty)'}" in "` +
                  snippet(c.parentElement ? c.parentElement.textContent : '') + '"');
    for (const e of document.querySelectorAll('.problematic, .system-message'))
        citations.push(`${label(e)}: "${snippet(e.textContent)}"`);

    const scripts = [...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src'));
    const styles = [...document.querySelectorAll('link[href]')]
        .filter(l => /stylesheet|preload|modulepreload/.test(l.rel)).map(l => l.getAttribute('href'));
    const downloads = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
        .filter(h => /\.ipynb$/.test(h));
    return {prose, allText, attrs, untypeset, mathCount: mathElements.length, overflow, scrolling,
            citations, scripts, styles, downloads, hasMathJax: !!window.MathJax};
}
"""


@pytest.fixture(scope="module")
def book_pages(chromium):
    """``analyse(page)``: load one built page (once) and return what :data:`_ANALYSE` found."""
    if not (BOOK / "index.html").is_file():
        pytest.skip(f"no built book at {BOOK} (scripts/build-book, or set QMRI_BOOK_HTML)")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    cache: dict[str, dict] = {}

    def analyse(name: str) -> dict:
        if name in cache:
            return cache[name]
        html = BOOK / f"{name}.html"
        assert html.is_file(), f"{html} was not built"
        page = context.new_page()
        external, errors = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def _route(route):
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:", "about:")):
                route.continue_()
            else:
                external.append(url)
                route.abort()

        page.route("**/*", _route)
        page.goto(html.as_uri(), wait_until="load")
        found = page.evaluate(_ANALYSE)
        found["external_requests"] = external
        found["page_errors"] = errors
        page.close()
        cache[name] = found
        return found

    yield analyse
    context.close()


def _report(name: str, what: str, offenders: list[str]) -> str:
    return f"{name}.html: {what}:\n  " + "\n  ".join(offenders)


pages = pytest.mark.parametrize("name", PAGES)


@pytest.mark.browser
@pages
def test_nothing_is_fetched_from_another_host(name, book_pages):
    found = book_pages(name)
    offenders = [f"script {s}" for s in found["scripts"] if re.match(r"(https?:)?//", s)]
    offenders += [f"style sheet {s}" for s in found["styles"] if re.match(r"(https?:)?//", s)]
    offenders += [f"request {u}" for u in found["external_requests"]]
    cdn = [o for o in offenders if any(h in o for h in CDN_HOSTS)]
    assert not offenders, _report(name, f"needs the network ({len(cdn)} from a CDN)", offenders)


@pytest.mark.browser
@pages
def test_math_is_typeset_and_no_raw_tex_shows(name, book_pages):
    found = book_pages(name)
    offenders = []
    if found["mathCount"] and not found["hasMathJax"]:
        offenders.append("MathJax did not load")
    offenders += [f"math not typeset: {t!r}" for t in found["untypeset"]]
    for item in found["prose"]:
        for pattern, what in RAW_TEX:
            for m in pattern.finditer(item["text"]):
                context = item["text"][max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
                offenders.append(f"{what} {m.group(0)!r} in {item['where']}: \"...{context}...\"")
    assert not offenders, _report(name, "raw TeX", offenders)


@pytest.mark.browser
@pages
def test_nothing_is_wider_than_the_content_column(name, book_pages):
    found = book_pages(name)
    assert not found["overflow"], (
        _report(name, "wider than the content column", found["overflow"])
        + "\n(rule: " + " ".join(OVERFLOW_RULE.split()) + ")"
        + "\n(scrolling inside their containers, for information: "
        + ("; ".join(found["scrolling"][:10]) or "none") + ")")


@pytest.mark.browser
@pages
def test_no_machine_paths_in_the_text(name, book_pages):
    found = book_pages(name)
    offenders = []
    for item in found["allText"] + found["attrs"]:
        text = item["text"]
        for m in MACHINE_PATHS.finditer(text):
            context = text[max(0, m.start() - 50):m.end() + 50].replace("\n", " ")
            offenders.append(f"{m.group(0)!r} in {item['where']}: \"...{context}...\"")
    assert not offenders, _report(name, "machine paths", offenders)


@pytest.mark.browser
@pages
def test_citations_resolve_and_no_docutils_errors(name, book_pages):
    found = book_pages(name)
    offenders = list(found["citations"])
    offenders += [f"'[?]' in {i['where']}: {i['text'].strip()[:80]!r}"
                  for i in found["prose"] if "[?]" in i["text"]]
    assert not offenders, _report(name, "unresolved references or docutils errors", offenders)


@pytest.mark.browser
@pages
def test_no_script_errors(name, book_pages):
    found = book_pages(name)
    assert not found["page_errors"], _report(name, "uncaught script errors", found["page_errors"])


@pytest.mark.browser
@pages
def test_the_chapter_is_offered_as_ipynb(name, book_pages):
    found = book_pages(name)
    assert found["downloads"], f"{name}.html offers no .ipynb download"
    for href in found["downloads"]:
        target = (BOOK / name).parent / href
        assert target.resolve().is_file(), f"{name}.html offers {href}, which is missing"
