# modelcomp.gp: seed 002 Fig. 4/6 from a `kind: model` run: compression ratio
# (original weights bytes / coded bytes) against the representation precision
# RP p, one line per model (RP) and per difference of models (DoM).
# Usage: gnuplot -e "dir='results/NAME'" plots/modelcomp.gp
# Reads DIR/modelcomp.dat (written by featrd); writes DIR/modelcomp.png and .svg.
if (!exists("dir")) dir = "."
file = dir . "/modelcomp.dat"

ncols = 0
do for [c = 2:10] {
    stats file using (valid(c) ? 1 : 0) skip 2 nooutput
    if (STATS_records > 0 && STATS_sum > 0) { ncols = c }
}
set logscale y
set xlabel "representation precision RP (decimal digits p)"
set ylabel "compression ratio (original / coded)"
set grid
set key top right autotitle columnhead
set xtics 1
do for [fmt in "pngcairo svg"] {
    if (fmt eq "svg") { set terminal svg size 800,500 font "sans,11" noenhanced; set output dir . "/modelcomp.svg" } \
    else { set terminal pngcairo size 800,500 font "sans,10" noenhanced; set output dir . "/modelcomp.png" }
    plot for [k = 2:ncols] file using 1:k with linespoints lw 2 pt 7 title columnhead(k)
    unset output
}
