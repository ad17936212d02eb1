"""Plotly figures of the site: parity plots and band structures with DOS.

Plotly (not bokeh): it is already installed with the harness's dependencies, ships its whole
JS library inside the Python wheel (``plotly.offline.get_plotlyjs``, bundled once into the
site so pages open from disk, offline), serialises figures to JSON that the page hands to
``Plotly.newPlot``, gives hover templates and click events without a server, and is
actively maintained. Markers are SVG (``go.Scatter``), so a browser test can count them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from bench.report.bands import Curves
from bench.report.parity import Parity, robust_limits
from bench.settings import THZ_TO_K_MDR

DFT_COLOR = "#222222"
PALETTE = qualitative.Plotly
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
#: significant digits a parity point keeps in the page: hover shows 4, a position needs fewer;
#: Python's 17-digit floats made a 3,953-point plot 280 kB
POINT_DIGITS = 6


def _rounded(values: np.ndarray) -> np.ndarray:
    """``values`` to :data:`POINT_DIGITS` significant digits (what the page shows and stores)."""
    return np.array([float(f"{v:.{POINT_DIGITS}g}") for v in np.asarray(values, float)])


def _points(
    fig: go.Figure, points: pd.DataFrame, mask: np.ndarray, xy: tuple, style: dict, name: str
) -> None:
    """One marker trace of the masked points (hover: material, formula, values)."""
    if not mask.any():
        return
    part = points[mask].assign(
        model=lambda f: _rounded(f["model"]), dft=lambda f: _rounded(f["dft"])
    )
    fig.add_trace(
        go.Scatter(
            x=np.asarray(xy[0][mask], np.float32),  # positions: float32 is sub-pixel
            y=np.asarray(xy[1][mask], np.float32),
            mode="markers",
            marker=style,
            customdata=part[["material_id", "formula", "url", "model", "dft"]].to_numpy(),
            hovertemplate=(
                "<b>%{customdata[0]}</b> %{customdata[1]}<br>model: %{customdata[3]:.4g}<br>"
                "DFT: %{customdata[4]:.4g}<extra></extra>"
            ),
            name=f"{name} ({int(mask.sum())})",
            cliponaxis=False,  # markers at the edge drawn whole
        )
    )


def parity_figure(points: pd.DataFrame, model: str, label: str, title: str = "") -> go.Figure:
    """Model vs DFT of one property on equal, robust axes (:mod:`bench.report.parity`):
    flagged points and those beyond the limits (at the edge) in their own markers, counted in
    the legend. ``points``: material_id, formula, model, dft, url, flagged; ``flag`` its name."""
    dft, values = points["dft"].to_numpy(float), points["model"].to_numpy(float)
    lo, hi = robust_limits(dft, values)
    beyond = (dft < lo) | (dft > hi) | (values < lo) | (values > hi)
    flagged = points["flagged"].to_numpy(bool) if "flagged" in points else np.zeros(len(dft), bool)
    data = Parity(dft, values, lo, hi, beyond, flagged, str(points.attrs.get("flag", "")))
    xy = data.clipped()
    fig = go.Figure()
    line = {"color": "#aaaaaa", "width": 1}
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=line, hoverinfo="skip"))
    fig.data[0].showlegend = False
    plain = ~beyond & ~data.flagged
    _points(fig, points, plain, xy, {"size": 7, "color": PALETTE[0], "opacity": 0.7}, "ok")
    style = {"size": 8, "color": PALETTE[1], "symbol": "x", "opacity": 0.8}
    _points(fig, points, ~beyond & data.flagged, xy, style, data.flag_name or "flagged")
    style = {"size": 10, "color": PALETTE[2], "symbol": "triangle-up-open"}
    _points(fig, points, beyond, xy, style, "beyond the axes, drawn at the edge")
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        xaxis_title=f"DFT {label}",
        yaxis_title=f"{model} {label}",
        width=720,
        height=680,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
        legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.7)"},
        template="plotly_white",
    )
    fig.update_xaxes(range=[lo, hi], constrain="domain")
    fig.update_yaxes(range=[lo, hi], scaleanchor="x", scaleratio=1, constrain="domain")
    return fig


def _merged_ticks(ticks: list[tuple[float, str]]) -> tuple[list[float], list[str]]:
    """Special points; two at one position (a path break) as ``K|U``."""
    xs: list[float] = []
    names: list[str] = []
    for x, name in ticks:
        if xs and abs(x - xs[-1]) < 1e-9:
            names[-1] = f"{names[-1]}|{name}"
        else:
            xs.append(x)
            names.append(name)
    return xs, names


def _band_xy(x: np.ndarray, bands: np.ndarray) -> tuple[list, list]:
    """All bands of one side as one line trace, bands separated by gaps (None)."""
    xs: list = []
    ys: list = []
    for band in bands.T:  # 0.01 K and 1e-5 of the path: far below what a plot shows
        xs += [*np.round(x, 5).tolist(), None]
        ys += [*np.round(band * THZ_TO_K_MDR, 2).tolist(), None]
    return xs, ys


def curves_figure(curves: Curves) -> go.Figure:
    """Band structure (left) and DOS (right) of every side, overlaid, frequencies in K (as
    the quantities; 1 THz = 47.992 K, MDR's factor: on the axis title, and hovering a band
    gives both)."""
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.78, 0.22], horizontal_spacing=0.02
    )
    for i, (name, bands) in enumerate(curves.bands_THz.items()):
        color = DFT_COLOR if i == 0 else PALETTE[(i - 1) % len(PALETTE)]
        dash = "solid" if i == 0 else "dash"
        xs, ys = _band_xy(curves.x, bands)
        line = {"color": color, "width": 1.4, "dash": dash}
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=line,
                name=name,
                legendgroup=name,
                hovertemplate=f"%{{y:.1f}} K = %{{customdata:.3f}} THz<extra>{name}</extra>",
                customdata=[None if y is None else round(y / THZ_TO_K_MDR, 3) for y in ys],
            ),
            row=1,
            col=1,
        )
        if curves.dos_THz is not None and name in curves.dos:
            fig.add_trace(
                go.Scatter(
                    x=np.round(curves.dos[name] / THZ_TO_K_MDR, 6),
                    y=np.round(curves.dos_THz * THZ_TO_K_MDR, 2),
                    mode="lines",
                    line=line,
                    name=name,
                    legendgroup=name,
                    showlegend=False,
                ),
                row=1,
                col=2,
            )
    tick_x, tick_text = _merged_ticks(curves.ticks)
    fig.update_xaxes(
        tickvals=tick_x, ticktext=tick_text, showgrid=True, gridcolor="#dddddd", row=1, col=1
    )
    fig.update_xaxes(title_text="DOS [states/K]", nticks=4, tickformat=".2g", row=1, col=2)
    fig.update_yaxes(title_text="frequency [K] (1 THz = 47.992 K)", zeroline=True, row=1, col=1)
    fig.update_layout(
        width=900,
        height=480,
        margin={"l": 70, "r": 20, "t": 30, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": 1.08},
        hovermode="closest",
    )
    return fig


def figure_html(fig: go.Figure, div_id: str, click_opens_url: bool = False) -> str:
    """The figure as a div and its script (plotly.js loaded by the page); with
    ``click_opens_url`` a click on a point opens its ``customdata[2]``."""
    html = pio.to_html(
        fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=PLOT_CONFIG
    )
    if click_opens_url:
        html += (
            "<script>document.getElementById('" + div_id + "').on('plotly_click', function (e) {"
            " var p = e.points[0]; if (p.customdata) { window.location.href = p.customdata[2]; }"
            " });</script>"
        )
    return html
