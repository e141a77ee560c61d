#!/usr/bin/env bash
# tools/darknet-gpu.sh OUT_DIR: builds a CUDA libdarknet from Debian's own
# darknet source package (make darknet-gpu; docs/gpu.md). Nothing is vendored
# and nothing is downloaded from anywhere but the machine's Debian archive:
#   1. packages the build needs (dpkg-dev for apt-get source, the OpenCV
#      headers darknet's debian/control builds with), apt-get only what is missing;
#   2. a deb-src entry derived from /etc/apt/sources.list.d/debian.sources
#      when the machine has none (then apt-get update);
#   3. apt-get source darknet=<the installed darknet's source version>
#      (Debian's own patches applied by dpkg-source) into OUT_DIR/src/;
#   4. featrd's patches (tools/darknet-gpu/*.patch, each one's header says
#      why: CUDA 13, CPU networks in a GPU build, cuDNN 8+), 0003 only with cuDNN;
#   5. darknet's Makefile with GPU=1, OPENCV=1 (as debian/rules), cuDNN if
#      asked for or found (CUDNN=auto|0|1), ARCH = sm_80 + sm_90 (CUDA 13 has
#      no sm_30..52 any more) and no -lcuda (the runtime loads the driver
#      itself, so the library and featrd start on machines without one);
#   6. OUT_DIR/libdarknet.so, OUT_DIR/include/darknet.h and
#      OUT_DIR/darknet-gpu.mk (what the featrd Makefile needs: DARKNET_CUDNN).
# Environment: CUDA_HOME (/usr/local/cuda), CUDNN (auto), CUDA_ARCH (the
# -gencode flags), JOBS (nproc).
set -euo pipefail
out=${1:?usage: tools/darknet-gpu.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
nvcc=$cuda/bin/nvcc
cudnn=${CUDNN:-auto}
arch=${CUDA_ARCH:-"-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]"}
jobs=${JOBS:-$(nproc)}
say() { echo "make darknet-gpu: $*"; }
die() { echo "make darknet-gpu: $*" >&2; exit 2; }

[ -x "$nvcc" ] || die "no CUDA compiler at $nvcc; install the CUDA toolkit there or set CUDA_HOME"
for lib in cudart cublas curand; do
  [ -e "$cuda/lib64/lib$lib.so" ] || die "$cuda/lib64/lib$lib.so is missing (CUDA toolkit incomplete)"
done
case "$cudnn" in
  auto) if [ -f "$cuda/include/cudnn.h" ] || [ -f /usr/include/cudnn.h ]; then cudnn=1; else cudnn=0; fi ;;
  0|1) ;;
  *) die "CUDNN=$cudnn: expected auto, 0 or 1" ;;
esac
if [ "$cudnn" = 1 ]; then
  [ -e "$cuda/lib64/libcudnn.so" ] || [ -e /usr/lib/x86_64-linux-gnu/libcudnn.so ] ||
    die "CUDNN=1 but no libcudnn.so in $cuda/lib64 or /usr/lib/x86_64-linux-gnu"
fi

# 1. packages
pkgs="dpkg-dev libopencv-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || die "run as root (apt-get) to install:$missing"
  say "installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. a deb-src entry
has_src() {
  grep -qsE '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources ||
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}
if ! has_src; then
  base=/etc/apt/sources.list.d/debian.sources
  [ -f "$base" ] || die "no deb-src entry and no $base to derive one from; add a deb-src line for your Debian mirror"
  [ "$(id -u)" = 0 ] || die "run as root to add a deb-src entry (derived from $base)"
  dst=/etc/apt/sources.list.d/featrd-deb-src.sources
  say "adding $dst (the entries of $base with Types: deb-src)"
  { echo "# added by featrd's make darknet-gpu: $base with Types: deb-src"
    sed -E 's/^([[:space:]]*Types:).*/\1 deb-src/' "$base"; } > "$dst"
  apt-get update -qq
fi

# 3. the source of the darknet this machine runs
ver=$(dpkg-query -W -f='${source:Version}' darknet 2>/dev/null) ||
  die "Debian's darknet is not installed: run make deps first"
# up to date: the same source, options, patches and script built it
key=$(cat "$0" "$here"/darknet-gpu/*.patch | sha256sum | cut -c1-16)
key="$ver cudnn=$cudnn arch=$(echo $arch | tr ' ' ,) cuda=$("$nvcc" --version | tail -1 | tr ' ' _) $key"
if [ -f "$out/libdarknet.so" ] && [ -f "$out/darknet-gpu.mk" ] &&
   grep -qxF "DARKNET_GPU_KEY := $key" "$out/darknet-gpu.mk"; then
  say "$out/libdarknet.so is up to date (rm -rf $out to rebuild)"
  exit 0
fi
mkdir -p "$out/src"
src=$(cd "$out/src" && pwd)
tree="$src/darknet-${ver%-*}"
rm -rf "$tree"
say "apt-get source darknet=$ver"
(cd "$src" && apt-get source -qq "darknet=$ver" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
[ -f "$tree/Makefile" ] || die "apt-get source darknet=$ver did not give $tree"

# 4. patches
plist="0001-cuda13-cudaDeviceSynchronize.patch 0002-cpu-network-in-gpu-build.patch"
[ "$cudnn" = 1 ] && plist="$plist 0003-cudnn8-algorithm-queries.patch"
plist="$plist 0004-cpu-region-yolo-iseg-activations.patch"
for p in $plist; do
  say "patch $p"
  patch -s -p1 -d "$tree" < "$here/darknet-gpu/$p"
done

# 5. build (the Makefile's own rules; every flag given, so nothing of its
#    defaults for older CUDA remains)
defs="-DGPU -DOPENCV"
libs="-lm -pthread -L$cuda/lib64 -lcudart -lcublas -lcurand"
if [ "$cudnn" = 1 ]; then defs="$defs -DCUDNN"; libs="$libs -lcudnn"; fi
libs="$libs -lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lopencv_highgui -lopencv_videoio -lstdc++"
# -O3, not the Makefile's -Ofast: Debian's CPU libdarknet.so is not built
# with it (its calls to gemm_cpu go through the PLT, so featrd's OpenBLAS
# gemm_cpu interposes; GCC 12's -Ofast binds gemm → gemm_cpu inside the
# library, and its -ffast-math changes the CPU results: tests/test_model's
# GEMM switch and box checks fail with it). nvcc's own flags are unchanged.
cflags="-Wall -Wno-unused-result -Wno-unknown-pragmas -Wfatal-errors -fPIC -O3 $defs"
say "building libdarknet.so (GPU=1 CUDNN=$cudnn OPENCV=1, $jobs jobs)"
make -s -C "$tree" -j"$jobs" GPU=1 CUDNN="$cudnn" OPENCV=1 NVCC="$nvcc" ARCH="$arch" \
  COMMON="-Iinclude/ -Isrc/ $defs -I$cuda/include/ -I/usr/include/opencv4" \
  CFLAGS="$cflags" LDFLAGS="$libs" obj libdarknet.so > "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log" >&2; die "the darknet build failed; the whole log is $out/build.log"; }

# 6. what featrd links
mkdir -p "$out/include"
cp "$tree/libdarknet.so" "$out/libdarknet.so"
cp "$tree/include/darknet.h" "$out/include/darknet.h"
cuda_ver=$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
{ echo "# written by tools/darknet-gpu.sh: how $out/libdarknet.so was built"
  echo "DARKNET_CUDNN := $cudnn"
  echo "DARKNET_GPU_SOURCE := darknet $ver (apt-get source)"
  echo "DARKNET_GPU_PATCHES := $plist"
  echo "DARKNET_GPU_CUDA := $cuda_ver"
  echo "DARKNET_GPU_KEY := $key"; } > "$out/darknet-gpu.mk"
say "$out/libdarknet.so: darknet $ver, CUDA $cuda_ver, cuDNN $([ "$cudnn" = 1 ] && echo yes || echo no), $(echo "$arch" | grep -o 'sm_[0-9]*' | sort -u | tr '\n' ' ')"
