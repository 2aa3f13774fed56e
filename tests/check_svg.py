#!/usr/bin/env python3
# check_svg.py — checks an SVG of `fedrec plot` (used by test_plot.sh):
# it is well-formed XML; the legend has the expected entries, each drawn
# in a colour and dash pattern of its own; every legend text lies inside
# the picture; the x ticks are whole numbers where asked.
# Usage: check_svg.py FILE.svg [--labels a|b|c] [--count N] [--integer-x]
# Prints the legend's labels, one a line; exits 1 with a reason on failure.
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
CHAR_W = 6.0  # a lower bound on DejaVu Sans at 12 px is ~5.5; stricter than the layout's 7.2 is not needed


def main(argv):
    path = argv[1]
    want_labels = want_count = None
    integer_x = False
    i = 2
    while i < len(argv):
        if argv[i] == "--labels":
            want_labels = argv[i + 1].split("|")
            i += 2
        elif argv[i] == "--count":
            want_count = int(argv[i + 1])
            i += 2
        elif argv[i] == "--integer-x":
            integer_x = True
            i += 1
        else:
            sys.exit("check_svg.py: unknown argument " + argv[i])
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        sys.exit("%s: not well-formed XML: %s" % (path, e))
    width, height = float(root.get("width")), float(root.get("height"))
    labels, styles = [], []
    for g in root.iter(NS + "g"):
        if g.get("class") != "legend-entry":
            continue
        line = g.find(NS + "line")
        styles.append((line.get("stroke"), line.get("stroke-dasharray", "")))
        texts = g.findall(NS + "text")
        labels.append("".join(t.text or "" for t in texts))
        for t in texts:
            x, y, n = float(t.get("x")), float(t.get("y")), len(t.text or "")
            if x + n * CHAR_W > width or y > height:
                sys.exit("%s: legend text '%s' at (%g, %g) runs outside the %gx%g picture" % (path, t.text, x, y, width, height))
    series = [(p.get("stroke"), p.get("stroke-dasharray", "")) for p in root.iter(NS + "polyline")]
    if len(set(styles)) != len(styles):
        sys.exit("%s: two legend entries share a colour and dash pattern: %s" % (path, styles))
    if not set(series) <= set(styles):
        sys.exit("%s: a line is drawn in a style no legend entry has" % path)
    if want_count is not None and len(labels) != want_count:
        sys.exit("%s: %d legend entries, expected %d: %s" % (path, len(labels), want_count, labels))
    if want_labels is not None and labels != want_labels:
        sys.exit("%s: legend %s, expected %s" % (path, labels, want_labels))
    if integer_x:
        for t in root.iter(NS + "text"):
            if t.get("class") == "xtick" and not (t.text or "").lstrip("-").isdigit():
                sys.exit("%s: x tick '%s' is not a whole number" % (path, t.text))
    for label in labels:
        print(label)


if __name__ == "__main__":
    main(sys.argv)
