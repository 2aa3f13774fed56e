/* svg_chart.h — line charts as SVG for `fedrec plot`: several series
 * against a shared x axis (round or epoch), each in its own colour and dash
 * pattern, with the legend laid out below the plot so that any number of
 * series and long names fit. Every text is escaped for XML. */
#ifndef FR_CLI_SVG_CHART_H
#define FR_CLI_SVG_CHART_H

#include <stddef.h>
#include <stdio.h>

typedef struct fr_chart_series {
    const char *label;   /* the legend's text */
    const double *x, *y; /* n points; a non-finite y breaks the line */
    size_t n;
} fr_chart_series;

/* Write the chart to o. x_integer: the x values are counts (rounds,
 * epochs), so ticks fall on whole numbers only. */
void fr_chart_write_svg(FILE *o, const char *title, const char *x_label, const fr_chart_series *series,
                        size_t n_series, int x_integer);

/* text with & < > " ' escaped for XML, control characters and bytes that
 * are not UTF-8 replaced by '?'; at most max_chars characters (0: all),
 * the cut marked with "..." */
void fr_svg_text(FILE *o, const char *text, size_t max_chars);

#endif
