#!/usr/bin/env bash
# Runs every test binary given, sums cmocka's per-binary counts and ends with
# the line CI reads: "N passed, N failed". A binary that crashes counts as one
# failure even if cmocka printed nothing. An argument VAR=value (as env takes
# it) is exported for the binaries after it, so one call, and one closing
# line, covers several builds: run_tests.sh FEATRD_BIN=a build/tests/t FEATRD_BIN=b build-debug/tests/t
set -u
pass=0; fail=0; bad=()
export CMOCKA_MESSAGE_OUTPUT=stdout
# One OpenBLAS thread, as `featrd run` uses: tests compare the library's
# in-process outputs with the CLI's float for float, and OpenBLAS's
# multi-threaded sgemm rounds differently from its single-threaded one.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# memcheck misreads x265's SIMD kernels (uninitialised-value reports inside
# them); its C kernels are bit-exact with them (tests/test_codec.c checks).
[ -n "${FEATRD_VALGRIND:-}" ] && export FR_X265_ASM=0
for t in "$@"; do
  v=${t%%=*}
  if [ "$v" != "$t" ] && [[ "$v" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    export "$t"; continue
  fi
  name=$(basename "$t")
  # the build a binary comes from, when it is not the default one
  dir=${t%/tests/*}; dir=${dir##*/}
  [ "$dir" != "$t" ] && [ "$dir" != build ] && name="$name [$dir]"
  log=$(mktemp)
  start=$(date +%s.%N)
  if [ -n "${FEATRD_VALGRIND:-}" ]; then
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --suppressions=tests/valgrind.supp "$t" >"$log" 2>&1; rc=$?
  else
    "$t" >"$log" 2>&1; rc=$?
  fi
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$f" -ne 0 ]; then
    bad+=("$name"); echo "FAIL $name (${secs}s, exit $rc)"; sed 's/^/    /' "$log" | tail -60
  else
    echo "ok   $name: $p passed (${secs}s)"
  fi
  rm -f "$log"
done
[ ${#bad[@]} -gt 0 ] && echo "failing: ${bad[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
