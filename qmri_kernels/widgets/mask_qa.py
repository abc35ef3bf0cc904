"""Mask QA widget: a reader reviews and corrects the network's labels with a brush.

:class:`MaskQAWidget` is a thin ipywidgets view over a
:class:`~qmri_kernels.masks.MaskSession`: the T2-weighted slice with the labels as a
translucent overlay (colours of the label table), a slice slider, a muscle picker, the brush
radius, the tools paint / erase / fill, undo / redo / save, and beside the image the
biopsied muscle's mean PDFF and water T2 inside the current labels (carried onto the map
grids as the pipeline does), updated after every edit. Every edit goes through the session;
the widget holds no labels of its own.

Orientation
-----------
The slice is shown in the radiological convention: anterior at the top, the patient's left
on the right of the image. Which voxel axis runs along the canvas columns and which along
the rows, and whether either is reversed, is read from the affine (the axis closer to world
x runs across; columns go towards patient left, world −x; rows towards posterior, world −y).
For the cohort's axial series (affine diag(−dx, −dy, dz)) voxel (i, j) is drawn at column i,
row j. Each voxel is ``scale`` × ``scale`` canvas pixels, so canvas pixel (x, y) belongs to
column ``floor(x / scale)``, row ``floor(y / scale)`` (:meth:`MaskQAWidget.canvas_to_voxel`;
:meth:`MaskQAWidget.voxel_to_canvas` is its inverse). Pixels are drawn square; the cohort's
pixels are.

Mouse and keyboard
------------------
Press and drag to paint or erase (one drag is one undo step); click to fill an enclosed
hole. Click the image once to give it the keyboard focus; then ``p`` / ``e`` / ``f`` pick
the tool, ``z`` (or Ctrl+Z) undoes, ``y`` (Ctrl+Y, Ctrl+Shift+Z) redoes, ``s`` (Ctrl+S)
saves, ``[`` / ``]`` shrink / grow the brush, the up / down arrows (Page Up / Page Down) step
through the slices.

In the static HTML book the same view is a Matplotlib picture (:meth:`snapshot_png`; the
widget's mime bundle carries it as ``image/png``).
"""

from __future__ import annotations

import base64
import html
import io
import math
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np

from ..labels import LABELS, MUSCLE_NAMES, label_by_index, muscle_labels
from ..masks import MaskSession, MaskSessionError

__all__ = ["MaskQAWidget", "TOOLS", "KEYS"]

#: The brush tools, in the order of the toggle buttons.
TOOLS: tuple[str, ...] = ("paint", "erase", "fill")
#: Keyboard shortcuts (key on the focused canvas → action).
KEYS: dict[str, str] = {
    "p": "tool: paint", "e": "tool: erase", "f": "tool: fill",
    "z / Ctrl+Z": "undo", "y / Ctrl+Y / Ctrl+Shift+Z": "redo", "s / Ctrl+S": "save",
    "[ / ]": "brush radius − / +", "↑ / ↓ (PgUp / PgDn)": "next / previous slice",
}
_COLORS = {"error": "#b2182b", "info": "#1a6334"}
_CANVAS_CLASS = "qmri-mask-canvas"
_SAVE_CLASS = "qmri-mask-save"
_DISPLAY_PX = 512          # default: the larger image side is about this many canvas pixels


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


class _Orientation:
    """How a slice (axes i, j) maps onto display rows and columns (see the module notes)."""

    def __init__(self, affine: np.ndarray, shape: tuple[int, int]):
        a = np.asarray(affine, float)[:3, :2]
        # the in-plane axis closer to world x (left-right) runs across the columns
        self.col_axis = 0 if abs(a[0, 0]) * abs(a[1, 1]) >= abs(a[0, 1]) * abs(a[1, 0]) else 1
        self.row_axis = 1 - self.col_axis
        self.col_flip = bool(a[0, self.col_axis] > 0)   # +index → patient right: reverse
        self.row_flip = bool(a[1, self.row_axis] > 0)   # +index → anterior: reverse
        self.n_cols = int(shape[self.col_axis])
        self.n_rows = int(shape[self.row_axis])

    def to_display(self, plane: np.ndarray) -> np.ndarray:
        """(nx, ny, ...) slice → (rows, cols, ...) display array (a view)."""
        disp = np.swapaxes(plane, 0, 1) if self.col_axis == 0 else plane
        if self.row_flip:
            disp = disp[::-1]
        if self.col_flip:
            disp = disp[:, ::-1]
        return disp

    def voxel(self, row: int, col: int) -> tuple[int, int]:
        c = self.n_cols - 1 - col if self.col_flip else col
        r = self.n_rows - 1 - row if self.row_flip else row
        return (c, r) if self.col_axis == 0 else (r, c)

    def display(self, i: int, j: int) -> tuple[int, int]:
        """Voxel (i, j) → (row, col)."""
        c, r = (i, j) if self.col_axis == 0 else (j, i)
        col = self.n_cols - 1 - c if self.col_flip else c
        row = self.n_rows - 1 - r if self.row_flip else r
        return row, col


class MaskQAWidget(widgets.VBox):
    """Review and correct one reader's labels of one subject (ipywidgets 8 + ipycanvas).

    Parameters
    ----------
    session : MaskSession
        The reader's session (:meth:`MaskSession.open`); every edit goes through it.
    maps : mapping of str to (array, affine), optional
        ``"pdff"`` (MEGRE grid) and ``"water_t2"`` (MESE grid) in SI units, for the
        biopsied muscle's values beside the image. Default: the maps on disk
        (:meth:`MaskSession.load_maps`); without them the panel says so.
    slice_index : int, optional
        First slice shown; default the slice with most of the biopsied muscle.
    scale : int, optional
        Canvas pixels per voxel (default: the image's larger side about 512 pixels).
    opacity : float
        Opacity of the label overlay, 0–1.

    Attributes
    ----------
    session : MaskSession
    canvas : ipycanvas.Canvas
        The image (DOM class ``qmri-mask-canvas``); mouse and key events.
    slice_slider, brush_slider, opacity_slider : ipywidgets sliders
    muscle_picker : ipywidgets.Dropdown
        Label painted and filled (muscles by side; the swatch beside it shows its colour).
    tool : ipywidgets.ToggleButtons
        One of :data:`TOOLS`.
    undo_button, redo_button, save_button : ipywidgets.Button
        The save button has the DOM class ``qmri-mask-save``.
    stats_panel : ipywidgets.HTML
        The biopsied muscle's FF (%) and water T2 (ms) now and in the network's labels.
    message : ipywidgets.HTML
        What the last action did or why it was refused.
    timings : dict of str to float
        Milliseconds of the last action: ``edit`` (session), ``draw`` (slice redraw),
        ``stats`` (the ROI values and the panel), ``total``; for a drag, the sums over its
        mouse events (each redraws only the patch the brush covered).
    """

    def __init__(self, session: MaskSession, maps: Mapping[str, Any] | None = None, *,
                 slice_index: int | None = None, scale: int | None = None,
                 opacity: float = 0.45):
        from ipycanvas import Canvas

        self.session = session
        self._maps = dict(session.load_maps() if maps is None else getattr(maps, "maps", maps))
        nx, ny, nz = session.shape
        self._orient = _Orientation(session.affine, (nx, ny))
        self.scale = int(scale) if scale else max(1, _DISPLAY_PX // max(nx, ny))
        if self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self._grey = self._window(session.image)
        self._dragging = False
        self._stroke = None
        self._last_voxel: tuple[int, int] | None = None
        self._stroke_changed = 0
        self._stroke_ms = {"edit": 0.0, "draw": 0.0}
        self.timings: dict[str, float] = {}

        if slice_index is None:
            counts = (session.labels == session.biopsy_label).sum(axis=(0, 1))
            slice_index = int(np.argmax(counts)) if counts.any() else nz // 2
        self.slice_slider = widgets.IntSlider(
            value=int(slice_index), min=0, max=nz - 1, description="slice",
            continuous_update=True, layout=widgets.Layout(width="300px"))
        options = [(f"{lab.abbreviation}  {lab.name}", lab.index)
                   for side in ("right", "left") for lab in muscle_labels(side)]
        options += [(f"{lab.abbreviation}  {lab.name}", lab.index) for lab in LABELS
                    if lab.side is None]
        self.muscle_picker = widgets.Dropdown(options=options, value=session.biopsy_label,
                                              description="label",
                                              layout=widgets.Layout(width="300px"))
        self.swatch = widgets.HTML()
        self.brush_slider = widgets.IntSlider(value=3, min=1, max=25, description="brush",
                                              layout=widgets.Layout(width="260px"))
        self.opacity_slider = widgets.FloatSlider(value=float(opacity), min=0.0, max=1.0,
                                                  step=0.05, description="overlay",
                                                  layout=widgets.Layout(width="260px"))
        self.tool = widgets.ToggleButtons(
            options=list(TOOLS), value="paint",
            tooltips=["paint a disc (p)", "erase to background (e)",
                      "fill an enclosed hole (f)"],
            style={"button_width": "64px"})
        self.undo_button = widgets.Button(description="undo", icon="undo",
                                          tooltip="undo the last edit (z)")
        self.redo_button = widgets.Button(description="redo", icon="repeat",
                                          tooltip="redo (y)")
        self.save_button = widgets.Button(description="save", icon="save",
                                          button_style="primary",
                                          tooltip=f"save {session.reader}'s labels (s)")
        for b, cls in ((self.undo_button, "qmri-mask-undo"),
                       (self.redo_button, "qmri-mask-redo"), (self.save_button, _SAVE_CLASS)):
            b.add_class(cls)
        self.canvas = Canvas(width=self._orient.n_cols * self.scale,
                             height=self._orient.n_rows * self.scale)
        self.canvas.add_class(_CANVAS_CLASS)
        self.stats_panel = widgets.HTML(layout=widgets.Layout(min_width="240px",
                                                              padding="0 0 0 12px"))
        self.message = widgets.HTML()
        header = widgets.HTML(
            f"<b>sub-{html.escape(session.subject)}</b> · reader "
            f"<b>{html.escape(session.reader)}</b> · started from "
            f"<code>{html.escape(session.started_from)}</code> · anterior up, patient left "
            "on the right")
        keys = widgets.HTML("<small>Keys (click the image first): " + "; ".join(
            f"<kbd>{html.escape(k)}</kbd> {html.escape(v)}" for k, v in KEYS.items())
            + "</small>")

        self.canvas.on_mouse_down(self.on_mouse_down)
        self.canvas.on_mouse_move(self.on_mouse_move)
        self.canvas.on_mouse_up(self.on_mouse_up)
        self.canvas.on_mouse_out(self.on_mouse_up)
        self.canvas.on_key_down(self.on_key_down)
        self.slice_slider.observe(lambda _: self._redraw(), names="value")
        self.opacity_slider.observe(lambda _: self._redraw(), names="value")
        self.muscle_picker.observe(lambda _: self._update_swatch(), names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.save_button.on_click(lambda _: self.save())

        self._auto_stats = self._safe_stats(auto=True)
        self._stats = self._safe_stats()
        super().__init__(children=[
            header,
            widgets.HBox([self.slice_slider, self.tool, self.brush_slider]),
            widgets.HBox([self.muscle_picker, self.swatch, self.opacity_slider]),
            widgets.HBox([self.canvas, self.stats_panel]),
            widgets.HBox([self.undo_button, self.redo_button, self.save_button,
                          self.message]),
            keys,
        ])
        self.add_class("qmri-mask-qa")
        self._update_swatch()
        self._redraw()
        self._update_panel()

    # ------------------------------------------------------------------ coordinates

    def canvas_to_voxel(self, x: float, y: float) -> tuple[int, int] | None:
        """Voxel (i, j) of the current slice under canvas pixel (x, y); None outside.

        Parameters
        ----------
        x, y : float
            Canvas pixel position: ``x`` runs right, ``y`` down (what ipycanvas
            reports); voxel (column, row) is ``floor(x / scale)``, ``floor(y / scale)``.

        Returns
        -------
        (int, int) or None
            Voxel indices (i, j) along the session's first two axes, undoing the display
            orientation; None if (x, y) is off the image or not finite.
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        col, row = int(math.floor(x / self.scale)), int(math.floor(y / self.scale))
        if not (0 <= col < self._orient.n_cols and 0 <= row < self._orient.n_rows):
            return None
        return self._orient.voxel(row, col)

    def voxel_to_canvas(self, i: int, j: int) -> tuple[float, float]:
        """Canvas pixel (x, y) at the centre of voxel (i, j) (inverse of
        :meth:`canvas_to_voxel`).

        Parameters
        ----------
        i, j : int
            Voxel indices along the session's first two axes (not range-checked).

        Returns
        -------
        (float, float)
            Canvas pixel (x right, y down) of the voxel's centre: ``(col + 0.5) * scale``,
            ``(row + 0.5) * scale``.
        """
        row, col = self._orient.display(int(i), int(j))
        return (col + 0.5) * self.scale, (row + 0.5) * self.scale

    # ---------------------------------------------------------------------- drawing

    @staticmethod
    def _window(image: np.ndarray) -> np.ndarray:
        """The T2-weighted image as uint8 grey, window 0.5–99.5th percentile."""
        img = np.asarray(image, dtype=np.float32)
        finite = img[np.isfinite(img)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
        hi = hi if hi > lo else lo + 1.0
        grey = np.clip((np.nan_to_num(img, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
        return (grey * 255).astype(np.uint8)

    def _lut(self) -> np.ndarray:
        """(n, 4) float: RGB of each label index and its overlay opacity (0 for background)."""
        n = max(lab.index for lab in LABELS) + 1
        lut = np.zeros((n, 4), dtype=np.float32)
        a = float(self.opacity_slider.value)
        for lab in LABELS:
            lut[lab.index, :3] = _rgb(lab.color)
            lut[lab.index, 3] = a
        return lut

    def render_slice(self, slice_index: int | None = None) -> np.ndarray:
        """The displayed slice as an RGBA image at one pixel per voxel.

        Parameters
        ----------
        slice_index : int, optional
            Slice along the third axis; None: the slice the slider shows.

        Returns
        -------
        (rows, cols, 4) ndarray of uint8
            Anterior up, patient left on the right (see the module notes): the windowed
            grey image blended with the label colours at the overlay opacity, alpha 255.

        Raises
        ------
        IndexError
            If ``slice_index`` is outside the volume.
        """
        k = self.slice_slider.value if slice_index is None else int(slice_index)
        return self._render(k, slice(None), slice(None))

    def _render(self, k: int, rows: slice, cols: slice) -> np.ndarray:
        """RGBA of display rows × cols of slice k (one pixel per voxel)."""
        grey = self._orient.to_display(self._grey[:, :, k])[rows, cols].astype(np.float32)
        lab = self._orient.to_display(self.session.slice_labels(k))[rows, cols]
        lut = self._lut()
        rgba_lab = lut[np.clip(lab, 0, len(lut) - 1)]
        alpha = rgba_lab[..., 3:4]
        rgb = grey[..., None] * (1.0 - alpha) + rgba_lab[..., :3] * alpha
        out = np.empty(rgb.shape[:2] + (4,), dtype=np.uint8)
        out[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        out[..., 3] = 255
        return out

    def _redraw(self, region: tuple[int, int, int, int] | None = None) -> float:
        """Draw the current slice on the canvas; returns milliseconds.

        ``region`` (row0, row1, col0, col1) in display pixels redraws only that rectangle:
        ipycanvas sends images PNG-encoded, which costs about 60 ms for a whole 512 × 512
        canvas and well under a millisecond for a brush-sized patch.
        """
        t0 = time.perf_counter()
        k = self.slice_slider.value
        if region is None:
            r0, r1, c0, c1 = 0, self._orient.n_rows, 0, self._orient.n_cols
        else:
            r0, r1 = max(region[0], 0), min(region[1], self._orient.n_rows)
            c0, c1 = max(region[2], 0), min(region[3], self._orient.n_cols)
            if r1 <= r0 or c1 <= c0:
                return 0.0
        rgba = self._render(k, slice(r0, r1), slice(c0, c1))
        s = self.scale
        if s > 1:
            rgba = np.repeat(np.repeat(rgba, s, axis=0), s, axis=1)
        self.canvas.put_image_data(rgba, c0 * s, r0 * s)
        return 1e3 * (time.perf_counter() - t0)

    def _disc_region(self, voxels: list[tuple[int, int]], radius: float
                     ) -> tuple[int, int, int, int]:
        """Display rectangle (row0, row1, col0, col1) covering discs around ``voxels``."""
        rad = int(math.floor(radius))
        rc = np.array([self._orient.display(i, j) for i, j in voxels])
        return (int(rc[:, 0].min()) - rad, int(rc[:, 0].max()) + rad + 1,
                int(rc[:, 1].min()) - rad, int(rc[:, 1].max()) + rad + 1)

    def _update_swatch(self) -> None:
        lab = label_by_index(int(self.muscle_picker.value))
        self.swatch.value = (f'<span style="display:inline-block;width:1.2em;height:1.2em;'
                             f'background:{lab.color};border:1px solid #444;'
                             f'vertical-align:middle"></span> {html.escape(lab.name)}')

    # ------------------------------------------------------------------------ stats

    def _safe_stats(self, auto: bool = False) -> dict[str, Any] | None:
        if not self._maps:
            return None
        try:
            if auto:
                return _auto_stats(self.session, self._maps)
            return self.session.stats(self._maps)
        except (MaskSessionError, ValueError) as exc:
            self._stats_error = str(exc)
            return None

    def _update_panel(self) -> None:
        s = self.session
        name = f"{s.biopsy_side} {MUSCLE_NAMES[s.biopsy_muscle]}"
        dice = s.dice().get(label_by_index(s.biopsy_label).abbreviation, float("nan"))
        lines = [f"<b>Biopsied muscle</b><br>{html.escape(name)}"]
        if self._stats is None:
            why = getattr(self, "_stats_error", "the PDFF and water T2 maps are not "
                                                "computed yet (run the pipeline)")
            lines.append(f"<i>{html.escape(why)}</i>")
        else:
            def fmt(d, key, unit, digits):
                v = None if d is None else d.get(key)
                return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f} {unit}"
            a = self._auto_stats
            lines.append(
                "<table><tr><th></th><th>now</th><th>network</th></tr>"
                f"<tr><td>FF</td><td>{fmt(self._stats, 'ff_percent', '%', 1)}</td>"
                f"<td>{fmt(a, 'ff_percent', '%', 1)}</td></tr>"
                f"<tr><td>water T2</td><td>{fmt(self._stats, 'water_t2_ms', 'ms', 1)}</td>"
                f"<td>{fmt(a, 'water_t2_ms', 'ms', 1)}</td></tr></table>")
            n = self._stats.get("n_voxels_pdff"), self._stats.get("n_voxels_water_t2")
            lines.append(f"<small>voxels: {n[0] if n[0] is not None else '–'} (PDFF), "
                         f"{n[1] if n[1] is not None else '–'} (water T2)</small>")
        lines.append(f"Dice with the network: {dice:.3f}" if np.isfinite(dice)
                     else "Dice with the network: –")
        lines.append("<small>unsaved changes</small>" if s.has_unsaved_changes
                     else "<small>saved / unchanged</small>")
        self.stats_panel.value = "<br>".join(lines)
        self.undo_button.disabled = not s.can_undo
        self.redo_button.disabled = not s.can_redo

    def _after_edit(self, t_edit_ms: float, verb: str, n: int, *, t_draw_ms: float | None = None
                    ) -> None:
        """Redraw (unless the stroke already did), update the values, record the timings."""
        t_draw = self._redraw() if t_draw_ms is None else t_draw_ms
        t0 = time.perf_counter()
        self._stats = self._safe_stats()
        self._update_panel()
        t_stats = 1e3 * (time.perf_counter() - t0)
        self.timings = {"edit": t_edit_ms, "draw": t_draw, "stats": t_stats,
                        "total": t_edit_ms + t_draw + t_stats}
        self._say(f"{verb}: {n} voxels changed ({self.timings['total']:.0f} ms)")

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.value = (f'<span style="color:{_COLORS[kind]}">{html.escape(text)}'
                              "</span>")

    # ------------------------------------------------------------------- mouse events

    def _brush(self, voxels: list[tuple[int, int]]) -> None:
        """Paint or erase discs at ``voxels`` (one stroke) and redraw the patch they cover."""
        k, r = self.slice_slider.value, self.brush_slider.value
        t0 = time.perf_counter()
        for voxel in voxels:
            if self.tool.value == "erase":
                self._stroke_changed += self.session.erase(k, center=voxel, radius=r)
            else:
                self._stroke_changed += self.session.paint(
                    k, center=voxel, radius=r, label=int(self.muscle_picker.value))
        self._stroke_ms["edit"] += 1e3 * (time.perf_counter() - t0)
        self._stroke_ms["draw"] += self._redraw(self._disc_region(voxels, r))

    def on_mouse_down(self, x: float, y: float) -> None:
        """Canvas mouse-down at pixel (x, y): fill there, or start a paint / erase stroke.

        A refused fill (no enclosed hole) is reported in :attr:`message`, not raised.
        Nothing happens off the image.

        Parameters
        ----------
        x, y : float
            Canvas pixel position (x right, y down), as ipycanvas reports it.
        """
        voxel = self.canvas_to_voxel(x, y)
        if voxel is None:
            return
        if self.tool.value == "fill":
            t0 = time.perf_counter()
            try:
                n = self.session.fill(self.slice_slider.value, seed=voxel,
                                      label=int(self.muscle_picker.value))
            except MaskSessionError as exc:
                self._say(str(exc), "error")
                return
            self._after_edit(1e3 * (time.perf_counter() - t0), "fill", n)
            return
        self._end_stroke()
        self._stroke = self.session.stroke()
        self._stroke.__enter__()
        self._dragging, self._last_voxel, self._stroke_changed = True, voxel, 0
        self._stroke_ms = {"edit": 0.0, "draw": 0.0}
        self._brush([voxel])

    def on_mouse_move(self, x: float, y: float) -> None:
        """Canvas mouse-move: while a stroke is on, brush along the path from the last voxel.

        Discs are placed at most half a brush radius apart along the straight path, so a
        fast drag leaves no gaps. Ignored when no stroke is on or off the image.

        Parameters
        ----------
        x, y : float
            Canvas pixel position (x right, y down), as ipycanvas reports it.
        """
        if not self._dragging:
            return
        voxel = self.canvas_to_voxel(x, y)
        if voxel is None:
            return
        last = self._last_voxel or voxel
        steps = max(abs(voxel[0] - last[0]), abs(voxel[1] - last[1]))
        step = max(1.0, self.brush_slider.value / 2.0)
        n = max(1, int(math.ceil(steps / step)))
        path: list[tuple[int, int]] = []
        for t in np.linspace(0.0, 1.0, n + 1)[1:]:
            p = (int(round(last[0] + t * (voxel[0] - last[0]))),
                 int(round(last[1] + t * (voxel[1] - last[1]))))
            if not path or p != path[-1]:
                path.append(p)
        if path != [last]:
            self._brush(path)
        self._last_voxel = voxel

    def on_mouse_up(self, x: float, y: float) -> None:
        """Canvas mouse-up (or the pointer leaving the canvas): end the stroke, update values.

        The stroke becomes one undo step; the biopsied muscle's values and
        :attr:`timings` are updated.

        Parameters
        ----------
        x, y : float
            Canvas pixel position (x right, y down); brushed to first if on the image.
        """
        if not self._dragging:
            return
        self.on_mouse_move(x, y)
        verb = self.tool.value
        self._end_stroke()
        self._after_edit(self._stroke_ms["edit"], verb, self._stroke_changed,
                         t_draw_ms=self._stroke_ms["draw"])

    def _end_stroke(self) -> None:
        if self._stroke is not None:
            self._stroke.__exit__(None, None, None)
        self._stroke, self._dragging, self._last_voxel = None, False, None

    # --------------------------------------------------------------------- keyboard

    def on_key_down(self, key: str, shift: bool = False, ctrl: bool = False,
                    meta: bool = False) -> None:
        """Key pressed on the focused canvas (see :data:`KEYS`).

        Unknown keys, and Ctrl/Cmd combinations other than undo, redo and save, are
        ignored.

        Parameters
        ----------
        key : str
            The browser's ``KeyboardEvent.key`` (``"p"``, ``"["``, ``"ArrowUp"`` ...);
            single letters are matched case-insensitively.
        shift, ctrl, meta : bool
            Modifier keys held (Cmd is ``meta`` on macOS).
        """
        mod = ctrl or meta
        k = key.lower() if len(key) == 1 else key
        if k == "z" and (shift and mod):
            self.redo()
        elif k == "z":
            self.undo()
        elif k == "y":
            self.redo()
        elif k == "s":
            self.save()
        elif mod:
            return                       # leave other browser shortcuts alone
        elif k in ("p", "e", "f"):
            self.tool.value = {"p": "paint", "e": "erase", "f": "fill"}[k]
        elif k == "[":
            self.brush_slider.value = max(self.brush_slider.min, self.brush_slider.value - 1)
        elif k == "]":
            self.brush_slider.value = min(self.brush_slider.max, self.brush_slider.value + 1)
        elif key in ("ArrowUp", "PageUp"):
            self.slice_slider.value = min(self.slice_slider.max, self.slice_slider.value + 1)
        elif key in ("ArrowDown", "PageDown"):
            self.slice_slider.value = max(self.slice_slider.min, self.slice_slider.value - 1)

    # ---------------------------------------------------------------------- buttons

    def undo(self) -> int:
        """Undo the last edit (or stroke); returns the voxels restored.

        Returns
        -------
        int
            Voxels changed back; 0 if there was nothing to undo (the message says so).
        """
        self._end_stroke()
        t0 = time.perf_counter()
        n = self.session.undo()
        if n == 0:
            self._say("nothing to undo")
            return 0
        self._after_edit(1e3 * (time.perf_counter() - t0), "undo", n)
        return n

    def redo(self) -> int:
        """Redo the last undone edit; returns the voxels changed.

        Returns
        -------
        int
            Voxels changed again; 0 if there was nothing to redo (the message says so).
        """
        self._end_stroke()
        t0 = time.perf_counter()
        n = self.session.redo()
        if n == 0:
            self._say("nothing to redo")
            return 0
        self._after_edit(1e3 * (time.perf_counter() - t0), "redo", n)
        return n

    def save(self) -> None:
        """Save the reader's labels (the message shows the file or why it failed)."""
        self._end_stroke()
        try:
            path = self.session.save()
        except MaskSessionError as exc:
            self._say(str(exc), "error")
            return
        self._update_panel()
        self._say(f"saved {path.name}")

    # ------------------------------------------------------------------ static view

    def snapshot_png(self, dpi: int = 100) -> bytes:
        """A PNG picture of the current view (for the static book and reports).

        The slice with its overlay as on the canvas (same orientation, letters at the
        edges), the labels present in the slice, and the biopsied muscle's values.

        Parameters
        ----------
        dpi : int
            Resolution; the figure is 8.4 × 5.2 inches (840 × 520 pixels at 100 dpi).

        Returns
        -------
        bytes
            PNG file content.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        s = self.session
        k = self.slice_slider.value
        fig = Figure(figsize=(8.4, 5.2), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.04, 0.58, 0.86))
        ax.imshow(self.render_slice(k), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for text, xy, ha, va in (("A", (0.5, 0.99), "center", "top"),
                                 ("P", (0.5, 0.01), "center", "bottom"),
                                 ("R", (0.01, 0.5), "left", "center"),
                                 ("L", (0.99, 0.5), "right", "center")):
            ax.text(*xy, text, transform=ax.transAxes, ha=ha, va=va, color="white",
                    fontsize=11, fontweight="bold")
        ax.set_title(f"sub-{s.subject}, reader {s.reader}: slice {k} (0–{s.shape[2] - 1}), "
                     f"tool {self.tool.value}, brush {self.brush_slider.value}", fontsize=10)
        present = [label_by_index(int(v)) for v in np.unique(s.slice_labels(k)) if v]
        handles = [Patch(facecolor=lab.color, edgecolor="0.3", label=lab.abbreviation)
                   for lab in present]
        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.62, 0.9),
                       ncol=2, fontsize=8, frameon=False, title="labels in this slice",
                       title_fontsize=8)
        fig.text(0.62, 0.3, self._panel_text(), fontsize=9, va="top", family="monospace")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    def _panel_text(self) -> str:
        s = self.session
        name = f"{s.biopsy_side} {MUSCLE_NAMES[s.biopsy_muscle]}"
        lines = [f"biopsied: {name}"]
        if self._stats is None:
            lines.append("(PDFF / water T2 maps not computed)")
        else:
            for key, unit, label in (("ff_percent", "%", "FF"),
                                     ("water_t2_ms", "ms", "water T2")):
                now = self._stats.get(key, float("nan"))
                net = (self._auto_stats or {}).get(key, float("nan"))
                lines.append(f"{label:<9}{now:7.1f} {unit:<3}(network {net:.1f})")
        dice = s.dice().get(label_by_index(s.biopsy_label).abbreviation, float("nan"))
        lines.append(f"Dice with network: {dice:.3f}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widget view plus a PNG snapshot (shown where widgets cannot run)."""
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["image/png"] = base64.b64encode(self.snapshot_png()).decode("ascii")
        return data


def _auto_stats(session: MaskSession, maps: Mapping[str, Any]) -> dict[str, Any]:
    """:meth:`MaskSession.stats` of the network's labels (for comparison)."""
    return session.stats(maps, labels="auto")
