# A scatter plot as SVG: quality (y) against trainable parameters (x, log scale), one labelled
# point per method. Input lines: "label params value". Plain POSIX awk (mawk).
#   awk -v title="SST-2" -v ylabel="dev accuracy (%)" -f scatter_svg.awk points.txt > plot.svg
function log10(x) { return log(x) / log(10) }
function px(x) { return L + (log10(x) - xlo) / (xhi - xlo) * (W - L - R) }
function py(y) { return H - B - (y - ylo) / (yhi - ylo) * (H - T - B) }

BEGIN { n = 0 }  # so that the first point is [0], not [""]
{ label[n] = $1; xs[n] = $2; ys[n] = $3; n++ }

END {
  if (n == 0) exit  # nothing to plot
  W = 640; H = 420; L = 70; R = 30; T = 40; B = 60
  xlo = 1e300; xhi = -1e300; ylo = 1e300; yhi = -1e300
  for (i = 0; i < n; i++) {
    if (log10(xs[i]) < xlo) xlo = log10(xs[i]); if (log10(xs[i]) > xhi) xhi = log10(xs[i])
    if (ys[i] < ylo) ylo = ys[i]; if (ys[i] > yhi) yhi = ys[i]
  }
  # Whole decades on x; 10% head room on y so labels stay inside.
  xlo = int(xlo); xhi = int(xhi) + 1
  pad = (yhi - ylo) * 0.1 + 0.5; ylo -= pad; yhi += pad
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", W / 2, title
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B
  for (d = xlo; d <= xhi; d++)
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>\n", px(10 ^ d), T, px(10 ^ d), H - B, px(10 ^ d), H - B + 18, d
  for (k = 0; k <= 4; k++) {
    y = ylo + k * (yhi - ylo) / 4
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 6, py(y) + 4, y
  }
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">trainable parameters (log scale)</text>\n", (L + W - R) / 2, H - 18
  printf "<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">%s</text>\n", H / 2, H / 2, ylabel
  for (i = 0; i < n; i++)
    printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#1f77b4\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n", px(xs[i]), py(ys[i]), px(xs[i]) + 8, py(ys[i]) - 6, label[i]
  print "</svg>"
}
