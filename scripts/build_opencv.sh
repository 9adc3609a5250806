#!/usr/bin/env bash
# Builds OpenCV 5.1 (core, imgproc, imgcodecs, dnn only) into .deps/opencv for seqcore::inspect.
# Why: Debian bookworm's libopencv-dev is 4.6, whose DNN runs the EfficientNet-Lite graph about 3x
# slower than 5.1, and 4.7-4.12 cannot import its dynamic-size graph (docs/design.md §15). The source
# is the opencv-python-headless source release on PyPI, pinned by SHA-256; nothing else is fetched
# (IPP, OpenCL, CUDA and the extra codecs are off). About 35 min on 2 cores. Then configure seqcore
# with -DOpenCV_DIR=.deps/opencv/lib/cmake/opencv5 (scripts/dev_build.sh adds it when present).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:-$PWD/.deps/opencv}"
VERSION=5.1.0.95
SHA256=9002add14b121b9a0d64dcaff48e5cac69a7987efcf2847f7db075c2d3b9633b
URL="https://files.pythonhosted.org/packages/6b/51/33b8c7255f3bdd920d6238aa478faf1e2136d5a51f17d826c13902ca7195/opencv_python_headless-$VERSION.tar.gz"
if [ -f "$PREFIX/lib/cmake/opencv5/OpenCVConfig.cmake" ]; then
  echo "build_opencv: $PREFIX already holds an OpenCV build; remove it to rebuild" >&2
  exit 0
fi
WORK="$PWD/build/opencv-src"
mkdir -p "$WORK"
ARCHIVE="$WORK/opencv_python_headless-$VERSION.tar.gz"
if ! echo "$SHA256  $ARCHIVE" | sha256sum -c --status 2>/dev/null; then
  echo "build_opencv: downloading the OpenCV $VERSION source release (about 90 MB) from PyPI" >&2
  curl -fsSL -o "$ARCHIVE" "$URL"
  echo "$SHA256  $ARCHIVE" | sha256sum -c --status || { echo "build_opencv: SHA-256 mismatch for $ARCHIVE" >&2; exit 1; }
fi
top=$(tar tzf "$ARCHIVE" | head -1 || true)  # tar gets SIGPIPE from head
SOURCE="$WORK/${top%%/*}/opencv"
[ -d "$SOURCE" ] || tar xzf "$ARCHIVE" -C "$WORK"
off=(IPP ITT OPENCL CUDA FFMPEG GTK QT TIFF WEBP OPENJPEG JASPER OPENEXR V4L GSTREAMER 1394 EIGEN LAPACK TBB
     OPENMP FLATBUFFERS KLEIDICV FASTCV ADE VA AVIF OBSENSOR IMGCODEC_HDR IMGCODEC_SUNRASTER IMGCODEC_PXM
     IMGCODEC_PFM)
# On an AVX2 CPU, compile once for AVX2 instead of once per dispatch level (fewer objects: 384 instead of 431 for 4.12);
# the libraries then need an AVX2 CPU, as any x86 line computer of the last ten years has.
simd=()
grep -qw avx2 /proc/cpuinfo 2>/dev/null && simd=(-DCPU_BASELINE=AVX2 -DCPU_DISPATCH=)
without=()
for name in "${off[@]}"; do without+=("-DWITH_$name=OFF"); done
cmake -S "$SOURCE" -B "$WORK/build-$VERSION" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_LIST=core,imgproc,imgcodecs,dnn -DBUILD_SHARED_LIBS=ON \
  -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_DOCS=OFF -DBUILD_opencv_apps=OFF \
  -DBUILD_JAVA=OFF -DBUILD_opencv_python3=OFF -DWITH_PROTOBUF=ON -DBUILD_PROTOBUF=ON -DWITH_PTHREADS_PF=ON \
  -DOPENCV_DNN_OPENCL=OFF "${without[@]}" "${simd[@]}" >/dev/null
cmake --build "$WORK/build-$VERSION" --target install -j "$(nproc)"
echo "build_opencv: OpenCV $VERSION installed in $PREFIX"
