# shellcheck shell=bash
# Helpers shared by scripts/ios-build.sh and scripts/test-swift.sh. Sourced,
# not run; works in macOS's bash 3.2.

# strip_module_map SRC DST: the uniffi module map without its `use "Darwin"`
# and `use "_Builtin_*"` lines. Those declare uses of Apple SDK modules that
# the header does not need (it includes only <stdbool.h>, <stddef.h>,
# <stdint.h>); Xcode 26 rejects them when the module is built from a
# binary XCFramework, and Linux has no module named Darwin.
strip_module_map() {
    sed -e '/^[[:space:]]*use "Darwin"/d' -e '/^[[:space:]]*use "_Builtin_[A-Za-z0-9_]*"/d' "$1" >"$2"
}
