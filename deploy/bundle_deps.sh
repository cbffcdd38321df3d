#!/usr/bin/env bash
# Bundle the prebuilt libraries mhim links against (HDF5 serial, libyaml, OpenBLAS, libzip, cJSON, and the shared
# libraries they need beyond the C runtime) with their headers into one relocatable folder + tarball, so that mhim
# can be built on a machine without package-manager access (e.g. a lent GPU node):
#   deploy/bundle_deps.sh [OUT_DIR]         (default: ./mhim-deps; also writes OUT_DIR.tar.gz)
# On the target:  tar xzf mhim-deps.tar.gz && source mhim-deps/env.sh   (sets CMAKE_PREFIX_PATH, HDF5_ROOT,
# PKG_CONFIG_PATH, LD_LIBRARY_PATH), then configure as usual; see docs/gpu.md. The target needs a C compiler,
# CMake >= 3.25, the CUDA toolkit for GPU builds, and a glibc at least as new as the machine that made the bundle.
set -euo pipefail

out=$(realpath -m "${1:-mhim-deps}")
arch_lib=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
arch_inc=/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

die() { echo "bundle_deps.sh: $*" >&2; exit 2; }
for pc in hdf5-serial yaml-0.1 openblas libzip libcjson; do
  pkg-config --exists "$pc" || die "pkg-config does not know '$pc': run deploy/install_deps.sh first"
done

rm -rf "$out"
mkdir -p "$out/include" "$out/lib/pkgconfig"

# ---- headers ---------------------------------------------------------------------------------------------------
hdf5_inc=$(pkg-config --variable=includedir hdf5-serial)
[ -f "$hdf5_inc/hdf5.h" ] || hdf5_inc=/usr/include/hdf5/serial
cp -a "$hdf5_inc"/*.h "$out/include/"
cp -a /usr/include/yaml.h "$out/include/"
blas_inc=$(dirname "$(find "$arch_inc" /usr/include -name cblas.h -path '*openblas*' 2>/dev/null | head -1)")
[ -f "$blas_inc/cblas.h" ] || die "cblas.h of OpenBLAS not found"
cp -a "$blas_inc"/*.h "$out/include/"
cp -a /usr/include/zip.h "$out/include/"
cp -a "$(find /usr/include "$arch_inc" -name zipconf.h 2>/dev/null | head -1)" "$out/include/"
cp -a /usr/include/cjson "$out/include/"

# ---- libraries: the five, then everything they load except the C runtime ----------------------------------------
main_libs=(libhdf5_serial.so libyaml.so libopenblas.so libzip.so libcjson.so)
runtime='^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^ ]*|linux-vdso|libgcc_s|libstdc\+\+|libgomp)\.so'
copy_lib() { # copy the real file under its soname, plus the linker name
  local path=$1 soname real
  real=$(readlink -f "$path")
  soname=$(objdump -p "$real" | awk '/SONAME/ {print $2}')
  [ -n "$soname" ] || soname=$(basename "$path")
  [ -e "$out/lib/$soname" ] || cp "$real" "$out/lib/$soname"
  echo "$soname"
}
declare -A seen=()
for name in "${main_libs[@]}"; do
  path=$arch_lib/$name
  [ -e "$path" ] || die "$path not found"
  soname=$(copy_lib "$path")
  ln -sf "$soname" "$out/lib/$name"
  while read -r dep dep_path; do
    [[ $dep =~ $runtime || -z $dep_path || -n ${seen[$dep]:-} ]] && continue
    seen[$dep]=1
    copy_lib "$dep_path" >/dev/null
  done < <(ldd "$(readlink -f "$path")" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
done
ln -sf libhdf5_serial.so "$out/lib/libhdf5.so" # FindHDF5 without the h5cc wrapper looks for libhdf5

# ---- pkg-config files (relocatable: paths relative to the .pc file) -----------------------------------------------
write_pc() { # name lib description
  cat >"$out/lib/pkgconfig/$1.pc" <<PC
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: $1
Description: $3 (bundled by mhim deploy/bundle_deps.sh)
Version: $(pkg-config --modversion "$1")
Libs: -L\${libdir} -l$2
Cflags: -I\${includedir}
PC
}
write_pc yaml-0.1 yaml "YAML 1.1 parser"
write_pc libzip zip "zip archive library"
write_pc libcjson cjson "JSON parser"
write_pc openblas openblas "OpenBLAS"

cat >"$out/env.sh" <<'ENV'
# source this file: makes the bundled libraries visible to CMake, pkg-config and the dynamic linker.
MHIM_DEPS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CMAKE_PREFIX_PATH="$MHIM_DEPS${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export HDF5_ROOT="$MHIM_DEPS"
export PKG_CONFIG_PATH="$MHIM_DEPS/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$MHIM_DEPS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ENV
{
  echo "bundled on $(hostname) $(date -u +%Y-%m-%dT%H:%MZ), $(ldd --version | head -1)"
  for pc in hdf5-serial yaml-0.1 openblas libzip libcjson; do echo "$pc $(pkg-config --modversion "$pc")"; done
} >"$out/MANIFEST"
ls "$out/lib" >>"$out/MANIFEST"
tar czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")"
echo "bundle_deps.sh: $(ls "$out/lib" | grep -c '\.so') libraries in $out ($(du -sh "$out.tar.gz" | cut -f1) as $out.tar.gz)"
