# lossless.gp: seed 000 Fig. 4 from a `kind: lossless` run: compression rate
# (compressed / original, eq. 1) per layer and coder as grouped bars, the
# non-zero rate of each layer as a broad grey bar behind them.
# Usage: gnuplot -e "dir='results/NAME'" plots/lossless.gp
#        (optional: -e "dat='lossless_fig4_q8.dat'" -e "out='lossless_q8'")
# Reads DIR/lossless_fig4.dat (written by featrd); writes DIR/lossless.png and .svg.
if (!exists("dir")) dir = "."
if (!exists("dat")) dat = "lossless_fig4.dat"
if (!exists("out")) out = "lossless"
file = dir . "/" . dat

# columns: feature nonzero coder1 coder2 ...
stats file using 2 skip 2 nooutput
nlayers = STATS_records
ncols = 0
do for [c = 3:20] {
    stats file using (valid(c) ? 1 : 0) skip 2 nooutput
    if (STATS_records > 0 && STATS_sum > 0) { ncols = c }
}
ncoders = ncols - 2
bw = 0.8 / (ncoders > 0 ? ncoders : 1)

set style fill solid 0.9 border -1
set boxwidth bw absolute
set yrange [0:*]
set ylabel "compression rate (compressed / original)"
set xlabel "feature"
set xtics rotate by -45 nomirror
set grid ytics
set key outside right top autotitle columnhead
set xrange [-0.6:nlayers - 0.4]
colors = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2"

do for [fmt in "pngcairo svg"] {
    if (fmt eq "svg") { set terminal svg size 1100,500 font "sans,11" noenhanced; set output dir . "/" . out . ".svg" } \
    else { set terminal pngcairo size 1100,500 font "sans,10" noenhanced; set output dir . "/" . out . ".png" }
    plot file using 0:2:(0.9):xtic(1) with boxes lc rgb "#c8c8c8" title "non-zero rate", \
         for [k = 1:ncoders] file using ($0 + (k - 1 - (ncoders - 1) / 2.0) * bw):(column(k + 2)) \
             with boxes lc rgb word(colors, k) title columnhead(k + 2)
    unset output
}
