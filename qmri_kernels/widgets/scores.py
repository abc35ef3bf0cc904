"""Score entry widget: one blinded slide at a time, every click saved at once.

:class:`ScoreEntryWidget` is a thin ipywidgets view over a
:class:`~qmri_kernels.scores.ReaderSession`: the slide's blinded code, the ten items with
0–4 toggle buttons (labelled with the words of the Likert scale of Wang et al. 2023), a
notes box, previous / next buttons, the reader's progress and a message line that shows
anything the store refused. There is no save button: each click is one durable
transaction in the score store, so closing the browser or killing the kernel loses
nothing. :meth:`ScoreEntryWidget.snapshot_png` draws the same view with Matplotlib; the
static HTML book shows that picture (the widget's mime bundle carries it as ``image/png``).

References
----------
.. [1] Wang F, Fang S, Li J, et al. (2023) Correlation analysis of quantitative MRI
   measurements of thigh muscles with histopathology in patients with idiopathic
   inflammatory myopathy. Eur Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z
.. [2] Harris PA et al. (2009) Research electronic data capture (REDCap). J Biomed Inform
   42:377–381. doi:10.1016/j.jbi.2008.08.010
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from typing import Any

import ipywidgets as widgets

from ..scores import ITEM_LABELS, ITEMS, SCALE, ReaderSession, ScoreError

__all__ = ["ScoreEntryWidget"]

_OPTIONS = [(f"{k} {word}", k) for k, word in SCALE.items()]
_TOOLTIPS = [f"{k}: {word} changes" if k else f"{k}: {word}" for k, word in SCALE.items()]
_COLORS = {"error": "#b2182b", "info": "#1a6334"}
#: DOM classes (for styling and browser tests): the whole sheet, and each item's row.
_SHEET_CLASS = "qmri-score-entry"
_ROW_CLASS = "qmri-score-item"


class ScoreEntryWidget(widgets.VBox):
    """Enter one reader's scores slide by slide (ipywidgets 8).

    Parameters
    ----------
    session : ReaderSession
        The reader's blinded session; every change goes through it.
    start : int, optional
        Index (in ``session.slides``) of the first slide shown.

    Attributes
    ----------
    toggles : dict of str to ipywidgets.ToggleButtons
        Item → its 0–4 buttons (``value`` None while unscored).
    notes : ipywidgets.Textarea
        The reader's note on the slide, saved when the box loses focus.
    prev_button, next_button, lock_button : ipywidgets.Button
    progress : ipywidgets.HTML
        "9 of 13 complete".
    message : ipywidgets.HTML
        Empty, a confirmation, or why an entry was refused.

    Notes
    -----
    DOM classes: the sheet ``qmri-score-entry``; each item's row ``qmri-score-item`` and
    ``qmri-score-item-<item>`` (e.g. ``qmri-score-item-necrosis``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from qmri_kernels.scores import ScoreStore
    >>> with tempfile.TemporaryDirectory() as tmp, ScoreStore(pathlib.Path(tmp) / "s.sqlite") as st:
    ...     w = ScoreEntryWidget(st.session("R3", ["01"]))
    ...     w.toggles["fat"].value = 3
    ...     st.table()[["subject", "item", "score"]].values.tolist(), w.progress.value
    ([['01', 'fat', 3]], '0 of 1 complete')
    """

    def __init__(self, session: ReaderSession, start: int = 0):
        if not isinstance(session, ReaderSession):
            raise ScoreError(f"session must be a ReaderSession, got {type(session).__name__}")
        self._session = session
        self._index = 0
        self._loading = False
        self._message = ("", "info")
        self.header = widgets.HTML()
        self.toggles: dict[str, widgets.ToggleButtons] = {}
        rows = []
        for item in ITEMS:
            toggle = widgets.ToggleButtons(options=_OPTIONS, value=None, tooltips=_TOOLTIPS,
                                           style={"button_width": "82px"},
                                           layout=widgets.Layout(margin="0"))
            toggle.observe(lambda change, item=item: self._on_score(item, change), "value")
            self.toggles[item] = toggle
            label = widgets.Label(ITEM_LABELS[item], layout=widgets.Layout(width="190px"))
            row = widgets.HBox([label, toggle])
            row.add_class(_ROW_CLASS)
            row.add_class(f"{_ROW_CLASS}-{item}")
            rows.append(row)
        self.notes = widgets.Textarea(placeholder="Notes on this slide (saved when you leave "
                                                  "the box)", continuous_update=False,
                                      layout=widgets.Layout(width="640px", height="60px"))
        self.notes.observe(self._on_note, "value")
        self.prev_button = widgets.Button(description="previous", icon="arrow-left",
                                          tooltip="previous slide")
        self.next_button = widgets.Button(description="next", icon="arrow-right",
                                          tooltip="next slide")
        self.lock_button = widgets.Button(description="lock my scores", icon="lock",
                                          button_style="warning",
                                          tooltip="finish: no further changes after this")
        self.prev_button.on_click(lambda _: self.go_to(self._index - 1))
        self.next_button.on_click(lambda _: self.go_to(self._index + 1))
        self.lock_button.on_click(lambda _: self._on_lock())
        self.progress = widgets.HTML()
        self.message = widgets.HTML()
        legend = widgets.HTML("<small>Scale: " + " · ".join(f"{k} {w}" for k, w in SCALE.items())
                              + " (changes)</small>")
        self.progress.layout = widgets.Layout(margin="0 16px")
        nav = widgets.HBox([self.prev_button, self.next_button, self.progress, self.lock_button],
                           layout=widgets.Layout(align_items="center"))
        super().__init__(children=[self.header, legend, *rows, self.notes, nav, self.message])
        self.add_class(_SHEET_CLASS)
        self.go_to(start)

    # -- state --------------------------------------------------------------------------
    @property
    def session(self) -> ReaderSession:
        """The reader session this widget shows."""
        return self._session

    @property
    def slide_index(self) -> int:
        """Index of the shown slide in ``session.slides``."""
        return self._index

    @property
    def current_code(self) -> str:
        """Blinded code of the shown slide."""
        return self._session.slides[self._index]

    def __repr__(self) -> str:
        return (f"ScoreEntryWidget(reader={self._session.reader!r}, slide {self._index + 1} "
                f"of {len(self._session.slides)})")

    def _say(self, text: str, kind: str = "info") -> None:
        self._message = (text, kind)
        self.message.value = ("" if not text else
                              f'<span style="color:{_COLORS[kind]}">{html.escape(text)}</span>')

    def _refresh_progress(self) -> None:
        done, total = self._session.progress()
        self.progress.value = f"{done} of {total} complete"
        locked = self._session.locked
        for toggle in self.toggles.values():
            toggle.disabled = locked
        self.notes.disabled = locked
        self.lock_button.disabled = locked
        if locked:
            self.lock_button.description = "locked"

    def go_to(self, index: int) -> None:
        """Show slide ``index`` (clipped to the first/last slide).

        Loads this reader's scores and note of that slide into the controls (without
        recording anything) and updates the header, navigation buttons and progress.

        Parameters
        ----------
        index : int
            Position in the reader's shuffled slide order (0 = first); values outside
            the range show the first or last slide.
        """
        n = len(self._session.slides)
        self._index = max(0, min(int(index), n - 1))
        code = self.current_code
        scores = self._session.scores(code)
        self._loading = True
        try:
            for item, toggle in self.toggles.items():
                toggle.value = scores[item]
            self.notes.value = self._session.notes(code)
        finally:
            self._loading = False
        self.header.value = (f"<b>Slide {html.escape(code)}</b> &nbsp;·&nbsp; "
                             f"{self._index + 1} of {n} &nbsp;·&nbsp; reader "
                             f"{html.escape(self._session.reader)}")
        self.prev_button.disabled = self._index == 0
        self.next_button.disabled = self._index == n - 1
        self._say("")
        self._refresh_progress()

    def _set_quietly(self, widget: widgets.ValueWidget, value: Any) -> None:
        self._loading = True
        try:
            widget.value = value
        finally:
            self._loading = False

    # -- events -------------------------------------------------------------------------
    def _on_score(self, item: str, change: dict) -> None:
        if self._loading:
            return
        code = self.current_code
        if change["new"] is None:
            self._set_quietly(self.toggles[item], self._session.scores(code)[item])
            self._say(f"{ITEM_LABELS[item]}: a score cannot be cleared; choose the corrected "
                      "value instead.", "error")
            return
        try:
            self._session.record(code, item, change["new"])
        except ScoreError as exc:
            self._set_quietly(self.toggles[item], self._session.scores(code)[item])
            self._say(f"Not saved: {exc}", "error")
            self._refresh_progress()
            return
        self._say(f"Saved {ITEM_LABELS[item]} = {change['new']} ({SCALE[change['new']]}).")
        self._refresh_progress()

    def _on_note(self, change: dict) -> None:
        if self._loading:
            return
        code = self.current_code
        try:
            self._session.note(code, change["new"])
        except ScoreError as exc:
            self._set_quietly(self.notes, self._session.notes(code))
            self._say(f"Note not saved: {exc}", "error")
            self._refresh_progress()
            return
        self._say("Note saved.")

    def _on_lock(self) -> None:
        try:
            self._session.lock()
        except ScoreError as exc:
            self._say(f"Not locked: {exc}", "error")
            return
        self._refresh_progress()
        self._say("Your scores are locked; thank you.")

    # -- static rendering ---------------------------------------------------------------
    def snapshot_png(self, dpi: int = 100) -> bytes:
        """A PNG picture of the current view (for the static book and reports).

        Parameters
        ----------
        dpi : int, optional
            Resolution; the picture is 8.4 × 5.7 inches.

        Returns
        -------
        bytes
            PNG file content.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch

        width, height = 8.4, 5.7
        fig = Figure(figsize=(width, height), dpi=dpi, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        n = len(self._session.slides)
        title = ax.text(0.2, 0.35, f"Slide {self.current_code}", fontsize=13,
                        fontweight="bold", va="center")
        extent = title.get_window_extent(renderer=fig.canvas.get_renderer())
        ax.text(0.2 + extent.width / dpi + 0.15, 0.35,
                f"·  {self._index + 1} of {n}  ·  reader {self._session.reader}",
                fontsize=11, va="center")
        ax.text(0.2, 0.72, "Scale: " + " · ".join(f"{k} {w}" for k, w in SCALE.items())
                + " (changes)", fontsize=8.5, color="#555555", va="center")
        x0, bw, gap, y0, rh = 2.45, 1.04, 0.08, 1.05, 0.34
        for r, item in enumerate(ITEMS):
            y = y0 + r * rh
            ax.text(0.2, y, ITEM_LABELS[item], fontsize=9.5, va="center")
            value = self.toggles[item].value
            for k, (label, _) in enumerate(_OPTIONS):
                on = value == k
                ax.add_patch(FancyBboxPatch((x0 + k * (bw + gap), y - 0.12), bw, 0.24,
                                            boxstyle="round,pad=0,rounding_size=0.03",
                                            facecolor="#2166ac" if on else "#eeeeee",
                                            edgecolor="#2166ac" if on else "#bbbbbb",
                                            linewidth=0.8))
                ax.text(x0 + k * (bw + gap) + bw / 2, y, label, fontsize=8, ha="center",
                        va="center", color="white" if on else "#333333")
        y = y0 + len(ITEMS) * rh + 0.12
        note = self.notes.value.strip() or "(no notes)"
        note = textwrap.shorten(" ".join(note.split()), width=110, placeholder=" …")
        ax.text(0.2, y, "Notes:", fontsize=9.5, fontweight="bold", va="center")
        ax.text(0.85, y, note, fontsize=9, va="center", style="italic", color="#333333")
        y += 0.45
        ax.text(0.2, y, f"◀ previous    next ▶     {self.progress.value}"
                + ("    (locked)" if self._session.locked else ""), fontsize=10, va="center")
        text, kind = self._message
        if text:
            ax.text(0.2, y + 0.4, textwrap.shorten(text, width=120, placeholder=" …"),
                    fontsize=9, va="center", color=_COLORS[kind])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widget view plus a PNG snapshot (shown where widgets cannot run)."""
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["image/png"] = base64.b64encode(self.snapshot_png()).decode("ascii")
        return data
