# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The false-positive report as a page a security lead opens: two charts and the tables, in one self-contained file.

The charts are drawn by matplotlib (its Agg renderer, to PNG, embedded as data): a well-kept plotting library that
draws on the controller with no JavaScript and nothing fetched, so that the page needs no script and loads nothing.
It is needed only here, when the report is built; no module requires it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import io

from ansible_collections.mailsec.cloudflare.plugins.plugin_utils._escaping import PAGE_CSP, html_text

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d1d1f;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .8em;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child{text-align:left;white-space:nowrap}code{font-size:.9em}figure{margin:1em 0}img{max-width:100%}
"""


class ChartLibraryMissing(Exception):
    """matplotlib is not installed where the report is built."""


def _figure():
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise ChartLibraryMissing(
            "the false-positive report draws its charts with matplotlib, which is not installed on the controller: "
            "pip install matplotlib (the collection's execution environment has it)"
        ) from exc
    figure = Figure(figsize=(8, 3.6), dpi=100, layout="constrained")
    # Counts of messages and submissions: whole numbers on the axis.
    figure.add_subplot().yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def false_positives_chart(months):
    """Bars: the messages the runbooks released and moved back, per month; a line: their share of Cloudflare's
    detections, in percent."""
    figure = _figure()
    axes = figure.axes[0]
    names = [m["month"] for m in months]
    released = [m["released"] for m in months]
    moved_back = [m["moved_back"] for m in months]
    axes.bar(names, released, color="#3367d6", label="released")
    axes.bar(names, moved_back, bottom=released, color="#7aa6f5", label="moved back to the Inbox")
    axes.set_ylabel("false positives")
    axes.set_title("False positives per month")
    rate = axes.twinx()
    rate.plot(
        names, [m["false_positive_percent"] or 0 for m in months], color="#d93025", marker="o", label="% of detections"
    )
    rate.set_ylabel("% of Cloudflare's detections")
    rate.set_ylim(bottom=0)
    lines, labels = axes.get_legend_handles_labels()
    more_lines, more_labels = rate.get_legend_handles_labels()
    # Below the chart, where it hides no bar.
    figure.legend(lines + more_lines, labels + more_labels, loc="outside lower center", ncols=3, fontsize="small")
    return _png(figure)


def outcomes_chart(months):
    """Stacked bars: the submissions made each month, accepted, rejected and still pending."""
    figure = _figure()
    axes = figure.axes[0]
    names = [m["month"] for m in months]
    bottom = [0] * len(months)
    for state, colour in (("accepted", "#188038"), ("rejected", "#d93025"), ("pending", "#9aa0a6")):
        counts = [m["submissions"][state] for m in months]
        axes.bar(names, counts, bottom=bottom, color=colour, label=state)
        bottom = [b + c for b, c in zip(bottom, counts)]
    axes.set_ylabel("submissions")
    axes.set_title("Submission outcomes per month")
    figure.legend(loc="outside lower center", ncols=3, fontsize="small")
    return _png(figure)


def _e(value):
    return html_text(value if value is not None else "-")


def _table(headers, rows):
    head = "".join("<th>%s</th>" % _e(h) for h in headers)
    body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _e(cell) for cell in row) for row in rows)
    return "<table><tr>%s</tr>%s</table>" % (head, body)


def _figure_html(png, alt):
    return '<figure><img src="data:image/png;base64,%s" alt="%s"></figure>' % (png, _e(alt))


def page(data, title):
    """The whole page: the charts, the month table, the submissions, the repeated senders (candidate allow policies)."""
    months = data["months"]
    month_rows = [
        (
            m["month"],
            m["detections"],
            m["released"],
            m["moved_back"],
            m["false_positive_percent"],
            m["submissions"]["made"],
            m["submissions"]["accepted"],
            m["submissions"]["rejected"],
            m["submissions"]["pending"],
            m["median_hours_to_release"],
        )
        for m in months
    ]
    submissions = data["submissions"]
    candidates = data["repeated_senders"] + data["repeated_domains"]
    sections = [
        "<h1>%s</h1>" % _e(title),
        "<p>Generated %s from %d runbook report(s) and Cloudflare's monthly report and submissions. Median time from "
        "sending to release: %s h.</p>"
        % (_e(data["generated_at"]), data["sources"]["reports"], _e(data["median_hours_to_release"])),
        _figure_html(false_positives_chart(months), "False positives per month"),
        _figure_html(outcomes_chart(months), "Submission outcomes per month"),
        "<h2>Per month</h2>",
        _table(
            [
                "month",
                "Cloudflare detections",
                "released",
                "moved back",
                "% of detections",
                "submissions",
                "accepted",
                "rejected",
                "pending",
                "median h to release",
            ],
            month_rows,
        ),
        "<h2>Submissions</h2>",
        "<p>%d made, %d accepted, %d rejected, %d still pending (Cloudflare has not decided); %d matched to a released "
        "message; median time to a decision, as first seen by this report: %s h.</p>"
        % (
            submissions["made"],
            submissions["accepted"],
            submissions["rejected"],
            submissions["pending"],
            submissions["matched_to_releases"],
            _e(submissions["median_hours_to_decision"]),
        ),
        "<h2>Released more than once: candidate allow policies</h2>",
        _table(
            ["pattern", "type", "releases", "allow policy ttl"],
            [(c["pattern"], c["candidate"]["pattern_type"], c["releases"], c["candidate"]["ttl"]) for c in candidates],
        )
        if candidates
        else "<p>None.</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="%s"><meta name="referrer" content="no-referrer">'
        "<title>%s</title><style>%s</style></head><body>%s</body></html>\n"
        % (PAGE_CSP, _e(title), _STYLE, "".join(sections))
    )
