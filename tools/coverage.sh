#!/usr/bin/env bash
# Line coverage of src/ after the tests ran on a --coverage build (make
# coverage): gcov reads each object's .gcno/.gcda in BUILD (default
# build-cov) and this prints one line per src/ file, lowest first, then the
# total over all of them. Only the .c files are counted: a header's inline
# functions are compiled into every file that includes it, so gcov would
# count them once per includer.
set -u
build=${1:-build-cov}
tab=$(mktemp)
trap 'rm -f "$tab"' EXIT
for o in $(find "$build/src" -name '*.o' | sort); do
  src=${o#"$build"/}; src=${src%.o}.c
  # "File 'src/x.c'" then "Lines executed:85.00% of 200" (0.00% without a
  # .gcda: the object was never run)
  gcov -n -o "$o" "$src" 2>/dev/null | awk -v f="$src" '
    $0 == "File '\''" f "'\''" { g = 1; next }
    g && /^Lines executed:/ {
      split($0, a, /[:% ]+/)        # a[3] percent, a[5] lines
      printf "%s %d %d\n", f, int(a[3] * a[5] / 100 + 0.5), a[5]; exit
    }' >>"$tab"
done
[ -s "$tab" ] || { echo "coverage: no gcov data under $build/src (run make coverage)" >&2; exit 1; }
awk '{ pct = $3 ? 100 * $2 / $3 : 100; printf "%6.1f%% %6d/%-6d %s\n", pct, $2, $3, $1 }' "$tab" | sort -n
awk '{ hit += $2; all += $3 } END { printf "%6.1f%% %6d/%-6d total (src/, %d files)\n", all ? 100 * hit / all : 0, hit, all, NR }' "$tab"
