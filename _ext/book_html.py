"""Offer every chapter as a Jupyter notebook (.ipynb) in the HTML book's download menu.

sphinx-book-theme 1.x lists ".ipynb" beside ".md" and ".pdf" only when a launch service
(Binder, JupyterHub, Colab, JupyterLite) is configured; this book is read offline and has
none. For every page that is a notebook, this extension copies the notebook that MyST-NB
executed (``<build>/jupyter_execute/<page>.ipynb``, with its outputs) into ``_sources/``
and hands it to the theme, as the theme itself does for launch buttons.
"""

from pathlib import Path
from shutil import copy2


def _offer_ipynb(app, pagename, templatename, context, doctree):
    if app.builder.format != "html" or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    """Keep one copy of each script. An inline script added with ``app.add_js_file(None,
    body=...)`` after the builder exists is registered twice (once as ``None``, once as
    ``""``), so Sphinx does not see the repeat: sphinx-thebe's ``const THEBE_JS_URL = ...``
    then throws "Identifier 'THEBE_JS_URL' has already been declared" on every page, and
    sphinx-togglebutton's settings appear twice."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "",  # None and "" both mean inline
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: later handlers (MathJax) add to it


def setup(app):
    # before sphinx-book-theme builds the header buttons (priority 501)
    app.connect("html-page-context", _offer_ipynb, priority=500)
    app.connect("html-page-context", _drop_repeated_scripts, priority=499)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
