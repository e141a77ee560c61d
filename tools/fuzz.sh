#!/usr/bin/env bash
# Runs each libFuzzer target given for FUZZ_SECONDS (default 10) at nice 19,
# its corpus in build-fuzz/corpus/NAME seeded from fuzz/seeds/NAME and the
# shipped files below, and prints one line per target: executions, edge
# coverage, corpus size. A crash leaves build-fuzz/crashes/NAME-* and fails;
# copy it under tests/data/fuzz/NAME/ so make test replays it.
set -u
secs=${FUZZ_SECONDS:-10}
export FEATRD_PROBE_MEM_MB=${FEATRD_PROBE_MEM_MB:-1024}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p build-fuzz/crashes
status=0
printf '%-12s %12s %8s %8s %s\n' target execs cov corpus result
for bin in "$@"; do
  name=$(basename "$bin"); t=${name#fuzz_}
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  [ -d "fuzz/seeds/$t" ] && cp -n fuzz/seeds/$t/* "$corpus"/ 2>/dev/null
  case $t in
    config) cp -n configs/*.yaml tests/data/config/*.yaml tests/data/config/bad/*.yaml experiments/*/*.yaml "$corpus"/ 2>/dev/null ;;
    cfg|cfgcheck) for f in tests/data/model/*.cfg tests/data/model/hostile/*.cfg tests/data/run/*.cfg; do
           [ -f "$f" ] && cp -n "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"; done ;;
    rp) cp -n tests/data/model/*.weights "$corpus"/ 2>/dev/null ;;
  esac
  dict=(); [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  [ "$t" = cfgcheck ] && dict=(-dict=fuzz/cfg.dict)
  maxlen=(); [ "$t" = cfg ] && maxlen=(-max_len=4096)
  [ "$t" = config ] || [ "$t" = cfgcheck ] && maxlen=(-max_len=16384)
  log=build-fuzz/fuzz-$t.log
  nice -n 19 "$bin" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$t-" "${dict[@]}" "${maxlen[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ncorp=$(ls "$corpus" | wc -l)
  res=ok; [ $rc -ne 0 ] && { res="FAILED (exit $rc, see $log)"; status=1; }
  printf '%-12s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "$ncorp" "$res"
done
exit $status
