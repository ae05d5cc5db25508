#!/usr/bin/env bash
# Checks that the repository refers only to things inside it: no file may
# point readers at a design document outside the project or at tracker
# issue numbers, which users of the crate cannot see. Point at
# docs/design.md#section, docs/expiry.md or a module instead. Public
# upstream references (`uniffi-rs#2740`, `synapse#8429`, MSC and RFC
# numbers) are fine.
#
# Searches every file git tracks, and new files not yet added (not the
# ignored ones, so not target/), text only. Prints each offending line and
# closes with `references: N found` (exit 1), or `references: ok`.
# Outside a git work tree it prints a line starting "SKIPPED:" (counted as
# skipped by scripts/test-all.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# What must not come back (extended regular expressions, case as given):
#   the old design brief by its file name, upper case;
#   an issue by number (the word "issue", any case of its first letter,
#   singular or plural, then a number, with or without "#");
#   the repository the brief lived in.
patterns=(
    'DESIGN\.md'
    '[Ii]ssues? #?[0-9]'
    '[Ss]teering (repo|document)'
)

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "SKIPPED: not a git work tree, nothing to list the project's files with"
    exit 0
fi

args=()
for p in "${patterns[@]}"; do
    args+=(-e "$p")
done

# git grep exits 1 when nothing matched, 0 when something did, >1 on error.
hits=$(git grep --untracked -n -I -E "${args[@]}" -- .)
rc=$?
if [[ $rc -gt 1 ]]; then
    echo "references: git grep failed (exit $rc)"
    exit 2
fi
if [[ $rc -eq 0 ]]; then
    echo "$hits"
    count=$(printf '%s\n' "$hits" | wc -l)
    echo "references: $count found: refer to docs/design.md#section, docs/expiry.md or a module instead"
    exit 1
fi
echo "references: ok ($(git ls-files | wc -l) tracked files searched)"
