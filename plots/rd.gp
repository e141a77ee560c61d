# rd.gp: task metric vs KBPI for one results directory (featrd plot).
# featrd plot writes the data (DIR/plot_<metric>.dat: one index block per
# curve, feature curves first, then the cloud-only anchors; columns kbpi,
# metric, qp or bits; the first line of each block is its title) from
# DIR/points.csv and calls:
#   gnuplot -e "datafile='...'; outbase='DIR/rd_map07'; nfeat=N; nanch=M;
#               colors='1 1 2 ..'; dashes='1 2 ..'; lossless='0 1 ..';
#               ylabel='...'; ref=0.61" plots/rd.gp
# Colour = split, dash = bit depth (8 solid, 10 dashed, 12 dotted), lossless
# points = open squares, sensitivity-aware QP curves = filled triangles
# (uniform QP: filled circles); `lossless` holds that marker code 0/1/2; anchors = thick black/grey lines with filled
# circles, the uncompressed network = a horizontal dotted line.
set datafile commentschars "#"
set key outside right top vertical Left reverse noenhanced spacing 1.1 font ",9"
set xlabel "KBPI (kilobits per image)"
set ylabel ylabel
set logscale x 10
set grid xtics ytics mxtics lc rgb "#c8c8c8" dt 1
set autoscale y
set offsets graph 0, graph 0, graph 0.06, graph 0.06
set border 3
set tics nomirror
if (!exists("title")) title = ""
set title title noenhanced

splitcol(i) = word("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b #e377c2 #17becf #7f7f7f #bcbd22", (int(word(colors, i)) - 1) % 10 + 1)
anchcol(i) = word("#000000 #555555 #999999", (i - 1) % 3 + 1)

do for [term_i = 1:2] {
    if (term_i == 1) {
        set terminal pngcairo size 1100,650 font "DejaVu Sans,10" noenhanced
        set output outbase.".png"
    } else {
        set terminal svg size 1100,650 font "DejaVu Sans,10" noenhanced
        set output outbase.".svg"
    }
    plot \
      for [i=1:nfeat] datafile index (i-1) using 1:2 title columnheader(1) \
          with linespoints lw 2 dt int(word(dashes, i)) lc rgb splitcol(i) \
          pt int(word("7 4 9", int(word(lossless, i)) + 1)) ps (int(word(lossless, i)) == 1 ? 1.3 : (int(word(lossless, i)) == 2 ? 1.1 : 0.8)), \
      for [a=1:nanch] datafile index (nfeat + a - 1) using 1:2 title columnheader(1) \
          with linespoints lw 3 dt 1 lc rgb anchcol(a) pt 5 ps 0.9, \
      (ref == ref ? ref : 1/0) title "uncompressed" with lines lw 1 dt 3 lc rgb "#444444"
    unset output
}
