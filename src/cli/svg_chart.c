/* svg_chart.c — the SVG line chart of svg_chart.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/svg_chart.h"

/* Ten colours that stay apart from one another (Tableau's palette); past
 * ten series the dash pattern changes, so 80 series still differ. */
static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const dashes[] = {"", "7,4", "2,3", "10,3,2,3", "14,6", "4,2,4,7", "1,5", "14,3,3,3,3,3"};
#define N_COLOURS (sizeof colours / sizeof colours[0])
#define N_DASHES (sizeof dashes / sizeof dashes[0])

/* Layout, in pixels; CHAR_W is a generous width of one character of the
 * 12 px sans-serif font, so estimated text widths are never too small. */
static const double W = 900, L = 72, R = 24, T = 44, PH = 380, CHAR_W = 7.2, LINE_H = 16;

/* Length of the UTF-8 sequence starting at s (1 for a bad one). */
static size_t utf8_length(const unsigned char *s, int *valid)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    *valid = n > 0 && !(n == 2 && s[0] < 0xC2);
    for (size_t i = 1; *valid && i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            *valid = 0;
    return *valid ? n : 1;
}

static size_t char_count(const char *text)
{
    size_t n = 0;
    int valid;
    for (const unsigned char *p = (const unsigned char *)text; *p; n++)
        p += utf8_length(p, &valid);
    return n;
}

/* Write characters [from, from + count) of text, escaped. */
static void write_chars(FILE *o, const char *text, size_t from, size_t count)
{
    size_t i = 0;
    int valid;
    for (const unsigned char *p = (const unsigned char *)text; *p && i < from + count; i++) {
        size_t n = utf8_length(p, &valid);
        if (i >= from) {
            unsigned char c = *p;
            if (!valid || (c < 0x20 && c != '\t'))
                fputc('?', o);
            else if (c == '&')
                fputs("&amp;", o);
            else if (c == '<')
                fputs("&lt;", o);
            else if (c == '>')
                fputs("&gt;", o);
            else if (c == '"')
                fputs("&quot;", o);
            else if (c == '\'')
                fputs("&apos;", o);
            else
                fwrite(p, 1, n, o);
        }
        p += n;
    }
}

void fr_svg_text(FILE *o, const char *text, size_t max_chars)
{
    size_t n = char_count(text);
    if (max_chars && n > max_chars && max_chars > 3) {
        write_chars(o, text, 0, max_chars - 3);
        fputs("...", o);
    } else {
        write_chars(o, text, 0, n);
    }
}

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about `ticks`
 * intervals over span. */
static double nice_step(double span, int ticks)
{
    double raw = span / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10);
}

static int decimals_for(double step)
{
    int d = 0;
    while (d < 12 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-9 * pow(10, d))
        d++;
    return d;
}

typedef struct legend_layout {
    size_t per_line;   /* characters of a label on one line */
    size_t columns;
    double col_w, height;
} legend_layout;

static size_t label_lines(const char *label, size_t per_line)
{
    size_t n = char_count(label);
    return n ? (n + per_line - 1) / per_line : 1;
}

static legend_layout plan_legend(const fr_chart_series *s, size_t n)
{
    legend_layout g;
    double avail = W - L - R, swatch = 40;
    size_t longest = 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = char_count(s[i].label);
        longest = c > longest ? c : longest;
    }
    g.per_line = (size_t)((avail - swatch) / CHAR_W);
    if (longest < g.per_line)
        g.per_line = longest;
    g.col_w = swatch + (double)g.per_line * CHAR_W + 16;
    g.columns = (size_t)(avail / g.col_w);
    if (g.columns < 1)
        g.columns = 1;
    g.height = 0;
    for (size_t i = 0; i < n; i += g.columns) {
        size_t tallest = 1;
        for (size_t j = i; j < n && j < i + g.columns; j++) {
            size_t l = label_lines(s[j].label, g.per_line);
            tallest = l > tallest ? l : tallest;
        }
        g.height += (double)tallest * LINE_H + 6;
    }
    return g;
}

void fr_chart_write_svg(FILE *o, const char *title, const char *x_label, const fr_chart_series *s, size_t n_series,
                        int x_integer)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            xlo = fmin(xlo, s[k].x[i]);
            xhi = fmax(xhi, s[k].x[i]);
            ylo = fmin(ylo, s[k].y[i]);
            yhi = fmax(yhi, s[k].y[i]);
        }
    if (!isfinite(xlo))
        xlo = 0, xhi = 1;
    if (!isfinite(ylo))
        ylo = 0, yhi = 1;
    if (xhi <= xlo)
        xlo -= 1, xhi += 1;
    if (yhi <= ylo) {
        double pad = ylo ? fabs(ylo) * 0.05 : 0.5;
        ylo -= pad;
        yhi += pad;
    }
    double ystep = nice_step(yhi - ylo, 5);
    ylo = floor(ylo / ystep + 1e-9) * ystep;
    yhi = ceil(yhi / ystep - 1e-9) * ystep;
    double xstep = nice_step(xhi - xlo, 8);
    if (x_integer)
        xstep = xstep < 1 ? 1 : ceil(xstep);
    double pw = W - L - R;
    legend_layout g = plan_legend(s, n_series);
    double legend_top = T + PH + 52, H = legend_top + g.height + 12;
#define X(v) (L + ((v) - xlo) / (xhi - xlo) * pw)
#define Y(v) (T + PH - ((v) - ylo) / (yhi - ylo) * PH)
    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(o, "<text x=\"%.0f\" y=\"26\" font-size=\"15\">", L);
    fr_svg_text(o, title, (size_t)((W - L - R) / 8.5));
    fputs("</text>\n", o);
    int yd = decimals_for(ystep);
    for (double v = ylo; v <= yhi + ystep * 1e-6; v += ystep) {
        double y = Y(v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", L, y, L + pw, y);
        fprintf(o, "<text class=\"ytick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", L - 6, y + 4, yd, fabs(v) < ystep * 1e-6 ? 0.0 : v);
    }
    int xd = x_integer ? 0 : decimals_for(xstep);
    for (double v = ceil(xlo / xstep - 1e-9) * xstep; v <= xhi + xstep * 1e-6; v += xstep) {
        double x = X(v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x, T + PH, x, T + PH + 5);
        fprintf(o, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", x, T + PH + 19, xd, v);
    }
    fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, PH);
    fprintf(o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">", L + pw / 2, T + PH + 38);
    fr_svg_text(o, x_label, 80);
    fputs("</text>\n", o);
    double row_y = legend_top;
    size_t row_tallest = 1;
    for (size_t k = 0; k < n_series; k++) {
        const char *colour = colours[k % N_COLOURS], *dash = dashes[(k / N_COLOURS) % N_DASHES];
        char dash_attr[48] = "";
        if (*dash)
            snprintf(dash_attr, sizeof dash_attr, " stroke-dasharray=\"%s\"", dash);
        /* one polyline per run of finite points; a lone point gets a dot */
        size_t points = 0;
        for (size_t i = 0; i < s[k].n; i++)
            points += isfinite(s[k].x[i]) && isfinite(s[k].y[i]);
        int open = 0;
        for (size_t i = 0; i <= s[k].n; i++) {
            int ok = i < s[k].n && isfinite(s[k].x[i]) && isfinite(s[k].y[i]);
            if (ok && !open) {
                fprintf(o, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour, dash_attr);
                open = 1;
            }
            if (ok)
                fprintf(o, "%.1f,%.1f ", X(s[k].x[i]), Y(s[k].y[i]));
            if (!ok && open) {
                fputs("\"/>\n", o);
                open = 0;
            }
        }
        if (points <= 40)
            for (size_t i = 0; i < s[k].n; i++)
                if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                    fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", X(s[k].x[i]), Y(s[k].y[i]), colour);
        /* the legend entry */
        size_t col = k % g.columns;
        if (col == 0 && k) {
            row_y += (double)row_tallest * LINE_H + 6;
            row_tallest = 1;
        }
        size_t lines = label_lines(s[k].label, g.per_line);
        row_tallest = lines > row_tallest ? lines : row_tallest;
        double lx = L + (double)col * g.col_w;
        fputs("<g class=\"legend-entry\">\n", o);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>\n", lx,
                row_y + 8, lx + 32, row_y + 8, colour, dash_attr);
        for (size_t l = 0; l < lines; l++) {
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", lx + 40, row_y + 12 + (double)l * LINE_H);
            write_chars(o, s[k].label, l * g.per_line, g.per_line);
            fputs("</text>\n", o);
        }
        fputs("</g>\n", o);
    }
    fputs("</svg>\n", o);
#undef X
#undef Y
}
