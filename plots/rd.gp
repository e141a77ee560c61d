# rd.gp: task metric vs KBPI for one results directory (featrd plot).
# featrd plot writes DIR/plot_<metric>.dat from DIR/points.csv (one index
# block per curve: feature groups first, then the cloud-only anchors; columns
# kbpi, metric, CI low, CI high, QP or bit depth; the first line of each
# block is its title) and calls
#   gnuplot -e "datafile='...'; outbase='DIR/rd_map07'; nfeat=N; nanch=M;
#               colors='#0072B2 ..'; dashes='1 2 ..'; points='7 9 ..';
#               nlossy=K (blocks 1..K lossy curves, K+1..N lossless); ylabel='...'; ref=0.69; xmin=..; xmax=..;
#               height=..; yuvlev='0.685'; yuvtit='cloud-hevc:reference-yuv ...'" plots/rd.gp
# Every feature curve has the colour of its hue (Okabe-Ito, colour-blind safe;
# a hue is the curve less its split: the codec, bit depth, ...) and
# the marker of its split (filled: lossy curves, open: lossless points);
# dash = bit depth among lossy curves (solid, dashed, dash-dot). Lossless
# points are not joined: each is labelled with its bit depth. Anchors are
# thick black/grey lines with squares; vertical bars are the bootstrap CIs;
# the uncompressed network is a dotted line, an anchor's YUV conversion alone
# a dashed grey line. The legend sits below the plot in two columns.
set datafile commentschars "#"
set datafile missing "NaN"
set key outside below center horizontal maxcols 2 Left reverse noenhanced spacing 1.05 font ",9" width -2
set xlabel "KBPI (kilobits per image, every bit sent)"
set ylabel ylabel
set logscale x 10
set xrange [xmin:xmax]
set format x "%g"
set for [e=-3:6] xtics add (sprintf("%g", 2*10.0**e) 2*10.0**e, sprintf("%g", 5*10.0**e) 5*10.0**e)
set grid xtics ytics mxtics lc rgb "#d8d8d8" dt 1
set autoscale y
set offsets graph 0, graph 0, graph 0.06, graph 0.06
set border 3
set tics nomirror
set bars small
if (!exists("title")) title = ""
set title title noenhanced

col(i) = word(colors, i)
anchcol(i) = word("#000000 #666666 #999999", (i - 1) % 3 + 1)
dashpat(i) = int(word(dashes, i)) == 1 ? 1 : (int(word(dashes, i)) == 2 ? 2 : 4)
nyuv = strlen(yuvlev) > 0 ? words(yuvlev) : 0
yuvname(i) = sprintf("%s (YUV conversion, no coding)", word(yuvtit, i))

# Clauses only for groups that exist: gnuplot evaluates an empty `for`
# range's clause once with an out-of-range index.
cl = ""
add(c) = (strlen(cl) > 0 ? cl.", " : "").c
if (nfeat > 0) cl = add("for [i=1:nfeat] datafile index (i-1) using 1:2:3:4 notitle with yerrorbars lw 1 lc rgb col(i) pt int(word(points, i)) ps 0")
if (nlossy > 0) cl = add("for [i=1:nlossy] datafile index (i-1) using 1:2 title columnheader(1) with linespoints lw 2 dt dashpat(i) lc rgb col(i) pt int(word(points, i)) ps 0.9")
if (nfeat > nlossy) cl = add("for [i=nlossy+1:nfeat] datafile index (i-1) using 1:2 title columnheader(1) with points lw 2 lc rgb col(i) pt int(word(points, i)) ps 1.4")
if (nfeat > nlossy) cl = add("for [i=nlossy+1:nfeat] datafile index (i-1) using 1:2:5 notitle with labels offset 0,0.9 font ',8' tc rgb col(i)")
if (nanch > 0) cl = add("for [a=1:nanch] datafile index (nfeat + a - 1) using 1:2:3:4 notitle with yerrorbars lw 1 lc rgb anchcol(a) pt 5 ps 0")
if (nanch > 0) cl = add("for [a=1:nanch] datafile index (nfeat + a - 1) using 1:2 title columnheader(1) with linespoints lw 3 dt 1 lc rgb anchcol(a) pt 5 ps 0.9")
if (ref == ref) cl = add("ref title 'uncompressed network' with lines lw 1 dt 3 lc rgb '#444444'")
if (nyuv > 0) cl = add("for [y=1:nyuv] (0 + word(yuvlev, y)) title yuvname(y) with lines lw 1 dt 2 lc rgb '#888888'")

do for [term_i = 1:2] {
    if (term_i == 1) {
        set terminal pngcairo size 1000,height font "DejaVu Sans,10" noenhanced
        set output outbase.".png"
    } else {
        set terminal svg size 1000,height font "DejaVu Sans,10" noenhanced
        set output outbase.".svg"
    }
    eval("plot ".cl)
    unset output
}
